-- wrk script: GetBilan in JSON through the gateway, with a bearer token, over keep-alive
-- connections. The bilan id and the token come from the environment (run.sh sets them).
local id = os.getenv("BILAN_ID")
local token = os.getenv("TOKEN")
wrk.method = "POST"
wrk.path = "/boussole.v1.SessionService/GetBilan"
wrk.body = '{"id":"' .. id .. '"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Connect-Protocol-Version"] = "1"
wrk.headers["Authorization"] = "Bearer " .. token

local bad = 0
function response(status, headers, body)
   if status ~= 200 then
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   io.write(string.format("non200=%d\n", bad))
end
