"""The server-held pool: the client keys that open the proxy, the operator keys that open its
account endpoints, the Kimi tokens the operator keeps on the server, and keeping all of them in
step with the files they come from."""
