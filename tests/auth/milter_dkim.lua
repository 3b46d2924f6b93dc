-- bulwark-milter's own DKIM path (test_auth.py): the header block goes to
-- libopendkim with the first body chunk, then the body chunk by chunk.
-- Globals from miltertest -D: LIB, SOCKET, AUTHSERV, and the message files
-- SIGNED and TAMPERED.
dofile(LIB)

local function dkim_result(conn, path)
	send_message(conn, path, "bob@rcpt.test")
	finish(conn)
	local ar = mt.getheader(conn, "Authentication-Results", 0) or ""
	mt.echo("   " .. ar)
	return ar
end

run(function()
	local conn = open_conn()
	expect(dkim_result(conn, SIGNED):find("dkim=pass header.d=pass.test header.s=sel1", 1, true) ~= nil,
		"milter: DKIM pass on a body sent in chunks")
	expect(dkim_result(conn, TAMPERED):find("dkim=fail", 1, true) ~= nil,
		"milter: DKIM fail when the body is tampered with")
	mt.disconnect(conn)
end)
