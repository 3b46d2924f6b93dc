-- Safe default actions (no [actions]): every verdict only gets headers,
-- forged X-Bulwark-* and Authentication-Results in our name are removed,
-- and even a malicious message is neither rejected, held nor rewritten.
dofile(LIB)
run(function()
	local conn = open_conn()
	expect(not mt.test_action(conn, SMFIF_CHGBODY), "body changes not negotiated")
	expect(not mt.test_action(conn, SMFIF_QUARANTINE), "quarantine not negotiated")
	send_message(conn, SAMPLES .. "/plain.eml", "clerk@parliament.example",
		{{"X-Bulwark-Verdict", "clean"},
		 {"Authentication-Results", AUTHSERV .. "; dkim=pass header.d=forged.example"},
		 {"Authentication-Results", "relay.example; spf=pass"}})
	finish(conn)
	expect(mt.getreply(conn) == SMFIR_CONTINUE, "plain message accepted")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " clean"), "X-Bulwark-Verdict: clean")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Score", " 0.00"), "X-Bulwark-Score: 0.00")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Findings", " none"), "X-Bulwark-Findings: none")
	expect(mt.eom_check(conn, MT_HDRDELETE, "X-Bulwark-Verdict"), "forged verdict deleted")
	expect(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged results deleted")
	expect(not mt.eom_check(conn, MT_BODYCHANGE), "body unchanged")
	local ar = mt.getheader(conn, "Authentication-Results", 0)
	expect(ar ~= nil and ar:sub(1, #AUTHSERV + 2) == " " .. AUTHSERV .. ";" and ar:find("spf=", 1, true) ~= nil,
		"our own Authentication-Results with the live SPF result")

	send_message(conn, SAMPLES .. "/news-impersonation.eml", "clerk@parliament.example")
	finish(conn)
	expect(mt.getreply(conn) == SMFIR_CONTINUE, "malicious message still accepted by default")
	expect(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Verdict", " malicious"), "X-Bulwark-Verdict: malicious")
	local findings = mt.getheader(conn, "X-Bulwark-Findings", 0)
	expect(findings ~= nil and findings:find("DISPLAY_NAME_IMPERSONATION", 1, true) ~= nil,
		"findings name the impersonation")
	expect(not mt.eom_check(conn, MT_QUARANTINE), "not held")
	expect(mt.getreply(conn) ~= SMFIR_REPLYCODE, "no reply code")
	mt.disconnect(conn)
end)
