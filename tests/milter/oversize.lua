-- [milter] max_message_bytes = 1024, default_action = accept: a larger
-- message is not scanned but delivered marked unscanned (forged headers
-- still removed); a smaller one on the same connection is scanned.
dofile(LIB)
run(function()
	local conn = open_conn()
	send_message(conn, SAMPLES .. "/tracked-newsletter.eml", "clerk@parliament.example",
		{{"X-Bulwark-Verdict", "clean"}})
	finish(conn)
	expect(mt.getreply(conn) == SMFIR_CONTINUE, "oversized message accepted (fail-safe accept)")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " unscanned"), "marked unscanned")
	expect(mt.eom_check(conn, MT_HDRDELETE, "X-Bulwark-Verdict"), "forged verdict deleted")
	send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example")
	finish(conn)
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " clean"), "small message scanned")
	mt.disconnect(conn)
end)
