-- wrk script: posts the prebuilt bulk bodies in turn (BODIES_DIR, BODIES_COUNT), so the
-- measured rate is the server's own ingest rate with no client-side work per request.
local bodies = {}
local next_body = 0
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer sandbox-token" }

function init(args)
  local dir = os.getenv("BODIES_DIR")
  local count = tonumber(os.getenv("BODIES_COUNT"))
  for k = 0, count - 1 do
    local file = assert(io.open(string.format("%s/%06d.json", dir, k), "rb"))
    bodies[#bodies + 1] = file:read("*a")
    file:close()
  end
  next_body = math.random(0, #bodies - 1)
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[next_body])
end
