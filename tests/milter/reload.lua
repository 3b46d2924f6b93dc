-- SIGHUP reloads the settings under an open connection: the harness has
-- rewritten the file to add tag-subject for clean mail before the signal.
dofile(LIB)
run(function()
	local conn = open_conn()
	send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example")
	finish(conn)
	expect(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "no tag before the reload")
	local f = assert(io.open(CONFIG, "a"))
	f:write("\n[actions]\nclean = headers, tag-subject\nsubject_tag = [RELOADED]\n")
	f:close()
	os.execute("kill -HUP " .. PID)
	local tagged = false
	for _ = 1, 40 do
		mt.sleep(0.25)
		send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example")
		finish(conn)
		if mt.eom_check(conn, MT_HDRCHANGE, "Subject") then
			tagged = true
			break
		end
	end
	expect(tagged, "subject tagged after SIGHUP on the same connection")
	mt.disconnect(conn)
end)
