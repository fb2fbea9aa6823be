-- wrk request script for the distinct-token variant: request i carries token i mod N, read from
-- the file named after `--`, so no per-isolate cache can turn every request into a hit.
-- lib/wrk.mjs appends wrk-report.lua to this file for the report.
local tokens = {}
local next_token = 0

init = function(args)
  for line in io.lines(args[1]) do
    if line ~= '' then tokens[#tokens + 1] = line end
  end
end

request = function()
  next_token = next_token % #tokens + 1
  return wrk.format(nil, nil, { authorization = 'Bearer ' .. tokens[next_token] })
end

