-- A worker that crashes on a marker (BULWARK_TEST_CRASH_MARKER): the
-- message gets the fail-safe default (FAILSAFE = tempfail or accept), and
-- the next message on the same connection is scanned again.
dofile(LIB)
run(function()
	local conn = open_conn()
	send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example",
		{{"X-Crash", "bulwark-test-crash-marker"}, {"X-Bulwark-Verdict", "clean"}})
	finish(conn)
	if FAILSAFE == "tempfail" then
		expect(mt.getreply(conn) == SMFIR_REPLYCODE, "tempfail reply")
		expect(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Message could not be checked now, try again later"), "451 4.7.1")
	else
		expect(mt.getreply(conn) == SMFIR_CONTINUE, "accepted")
		expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " unscanned"), "marked unscanned")
		expect(mt.eom_check(conn, MT_HDRDELETE, "X-Bulwark-Verdict"), "forged verdict still deleted")
	end
	send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example")
	finish(conn)
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " clean"), "next message scanned")
	mt.disconnect(conn)
end)
