-- Shared by the miltertest scripts: start a conversation with the milter
-- under test and send it one message file as an MTA would.
-- Globals from miltertest -D: SOCKET (the milter's socket spec).

local function check(err, what)
	if err ~= nil then
		error(what .. ": " .. err)
	end
end

function open_conn()
	local conn = mt.connect(SOCKET, 20, 0.25)
	if conn == nil then
		error("cannot connect to " .. SOCKET)
	end
	check(mt.conninfo(conn, "client.example", "192.0.2.1"), "conninfo")
	check(mt.helo(conn, "client.example"), "helo")
	return conn
end

-- Sends a new message on conn: envelope, headers (extra ones first, as {name, value} pairs) and
-- body of the file at path; stops before end of message.
function send_message(conn, path, rcpt, extra)
	local f = assert(io.open(path, "rb"))
	local data = f:read("*a"):gsub("\r\n", "\n")
	f:close()
	local head, body = data:match("^(.-)\n\n(.*)$")
	check(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
	check(mt.rcptto(conn, "<" .. rcpt .. ">"), "rcptto")
	for _, h in ipairs(extra or {}) do
		check(mt.header(conn, h[1], h[2]), "header")
	end
	local name, value
	for line in (head .. "\n"):gmatch("(.-)\n") do
		if line:match("^[ \t]") and name then
			value = value .. "\r\n" .. line
		else
			if name then
				check(mt.header(conn, name, value), "header")
			end
			name, value = line:match("^([^:]+):[ \t]?(.*)$")
		end
	end
	if name then
		check(mt.header(conn, name, value), "header")
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		check(mt.eoh(conn), "eoh")
	end
	body = body:gsub("\n", "\r\n")
	for i = 1, #body, 65535 do
		check(mt.bodystring(conn, body:sub(i, i + 65534)), "body")
	end
end

function finish(conn)
	check(mt.eom(conn), "eom")
end

function expect(cond, what)
	if not cond then
		error("expected: " .. what)
	end
	mt.echo("ok: " .. what)
end

-- miltertest does not print a script's uncaught error: this does, and
-- fails the run.
function run(fn)
	local ok, err = pcall(fn)
	if not ok then
		mt.echo("FAIL: " .. tostring(err))
		os.exit(1)
	end
end
