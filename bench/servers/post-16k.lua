-- wrk script for the http-proxy-post-16k runs: every request is a POST of a
-- 16 KiB (16384-byte) JSON document; the upstream reads it all, then answers a
-- small JSON body.
local filler = string.rep("x", 16384 - #'{"data":""}')
wrk.method = "POST"
wrk.body = '{"data":"' .. filler .. '"}'
wrk.headers["Content-Type"] = "application/json"
