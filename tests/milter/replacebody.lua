-- [group:protected] clean = headers, sanitize: a tracked newsletter to a
-- protected recipient gets its body replaced and X-Bulwark-Sanitized; the
-- same message to anyone else and a plain message keep their bodies.
dofile(LIB)
run(function()
	local conn = open_conn()
	expect(mt.test_action(conn, SMFIF_CHGBODY), "body changes negotiated")
	send_message(conn, SAMPLES .. "/tracked-newsletter.eml", "jane.doe@parliament.example")
	finish(conn)
	expect(mt.eom_check(conn, MT_BODYCHANGE), "body replaced")
	local note = mt.getheader(conn, "X-Bulwark-Sanitized", 0)
	expect(note ~= nil and note:find("images=", 1, true) ~= nil, "X-Bulwark-Sanitized says images were removed")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict"), "verdict header")

	send_message(conn, SAMPLES .. "/tracked-newsletter.eml", "clerk@parliament.example")
	finish(conn)
	expect(not mt.eom_check(conn, MT_BODYCHANGE), "not rewritten for an unprotected recipient")

	send_message(conn, SAMPLES .. "/plain.eml", "jane.doe@parliament.example")
	finish(conn)
	expect(not mt.eom_check(conn, MT_BODYCHANGE), "plain text body kept")
	mt.disconnect(conn)
end)
