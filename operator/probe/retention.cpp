// Safe retention: stream ids, the safe trim id, the model of the trim and the
// Lua script that is the trim. See retention.h.
#include "shoal/probe/retention.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace shoal::probe {

namespace {

std::optional<uint64_t> parseU64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<StreamId> StreamId::parse(std::string_view s) {
  const size_t dash = s.find('-');
  auto ms = parseU64(s.substr(0, dash));
  if (!ms) return std::nullopt;
  if (dash == std::string_view::npos) return StreamId{*ms, 0};
  auto seq = parseU64(s.substr(dash + 1));
  if (!seq) return std::nullopt;
  return StreamId{*ms, *seq};
}

std::string StreamId::str() const { return std::to_string(ms) + "-" + std::to_string(seq); }

StreamId StreamId::next() const {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (seq < kMax) return {ms, seq + 1};
  if (ms < kMax) return {ms + 1, 0};
  return *this;
}

std::optional<StreamId> safeTrimId(const std::vector<GroupPosition>& groups) {
  std::optional<StreamId> safe;
  for (const GroupPosition& g : groups) {
    StreamId bound = g.lastDelivered.next();
    // A pending id above last-delivered-id (XCLAIM FORCE) still bounds it.
    if (g.oldestPending && *g.oldestPending < bound) bound = *g.oldestPending;
    if (!safe || bound < *safe) safe = bound;
  }
  return safe;
}

std::optional<StreamId> ageCutoff(const RetentionRule& rule, int64_t nowMs) {
  if (!rule.keepAgeMs) return std::nullopt;
  const int64_t cutoff = nowMs - *rule.keepAgeMs;
  return StreamId{static_cast<uint64_t>(std::max<int64_t>(0, cutoff)), 0};
}

TrimOutcome applyTrim(StreamModel& s, const RetentionRule& rule, int64_t nowMs) {
  TrimOutcome o;
  o.groups = static_cast<int64_t>(s.groups.size());
  o.safeId = safeTrimId(s.groups);
  if (!rule.requiredGroup.empty() &&
      std::none_of(s.groups.begin(), s.groups.end(),
                   [&](const GroupPosition& g) { return g.name == rule.requiredGroup; })) {
    o.requiredGroupMissing = true;
    o.length = static_cast<int64_t>(s.ids.size());
    o.atCap = rule.maxLength && o.length >= *rule.maxLength;
    return o;
  }
  auto countBelow = [&](StreamId bound) {
    return static_cast<int64_t>(std::lower_bound(s.ids.begin(), s.ids.end(), bound) - s.ids.begin());
  };
  auto removeOldest = [&](int64_t n) { s.ids.erase(s.ids.begin(), s.ids.begin() + n); };
  if (o.safeId) {
    std::optional<StreamId> minId = o.safeId;
    if (rule.keepCount > 0) {
      const int64_t below = countBelow(*o.safeId);
      if (below < rule.keepCount || static_cast<int64_t>(s.ids.size()) <= rule.keepCount) {
        minId.reset();  // no more acknowledged entries than it keeps: keep them all
      } else {
        minId = std::min(*minId, s.ids[below - rule.keepCount]);
      }
    }
    if (auto cutoff = ageCutoff(rule, nowMs); minId && cutoff && *cutoff < *minId) minId = cutoff;
    o.minId = minId;
    if (minId) {
      o.trimmed = countBelow(*minId);
      removeOldest(o.trimmed);
    }
  }
  if (rule.maxLength && static_cast<int64_t>(s.ids.size()) > *rule.maxLength) {
    if (o.safeId) {
      const int64_t kept = countBelow(*o.safeId);
      o.trimmed += kept;
      removeOldest(kept);
    }
    const int64_t over = static_cast<int64_t>(s.ids.size()) - *rule.maxLength;
    if (over > 0 && rule.dropOldest) {
      o.droppedUnconsumed = over;
      removeOldest(over);
    }
  }
  o.length = static_cast<int64_t>(s.ids.size());
  o.atCap = rule.maxLength && o.length >= *rule.maxLength;
  return o;
}

const std::string& trimScript() {
  // Ids are compared as decimal strings (no leading zeros in Redis's
  // replies): Lua numbers are doubles and cannot hold a 64-bit sequence.
  static const std::string script = R"LUA(
local key = KEYS[1]
local keepCount = tonumber(ARGV[1])
local cutoff = ARGV[2]
local maxLen = tonumber(ARGV[3])
local dropOldest = ARGV[4] == '1'
local required = ARGV[5]
local MAXSEQ = '18446744073709551615'

local function split(id)
  local d = string.find(id, '-', 1, true)
  return string.sub(id, 1, d - 1), string.sub(id, d + 1)
end
local function lessNum(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function less(x, y)
  local xm, xs = split(x)
  local ym, ys = split(y)
  if xm ~= ym then return lessNum(xm, ym) end
  return lessNum(xs, ys)
end
local function inc(n)
  local tail = ''
  for i = #n, 1, -1 do
    local c = string.byte(n, i) - 48
    if c < 9 then return string.sub(n, 1, i - 1) .. string.char(c + 49) .. tail end
    tail = '0' .. tail
  end
  return '1' .. tail
end
local function nextId(id)
  local ms, seq = split(id)
  if seq ~= MAXSEQ then return ms .. '-' .. inc(seq) end
  if ms ~= MAXSEQ then return inc(ms) .. '-0' end
  return id
end
-- The id of the n-th entry below bound (exclusive), or nil if there are fewer.
local function nthBelow(bound, n)
  local cursor = '(' .. bound
  local last = nil
  while n > 0 do
    local page = math.min(n, 1000)
    local r = redis.call('XREVRANGE', key, cursor, '-', 'COUNT', page)
    if #r < page then return nil end
    last = r[#r][1]
    n = n - #r
    cursor = '(' .. last
  end
  return last
end

if redis.call('EXISTS', key) == 0 then return {0, 0, '', '', 0, 0, 0, 0, 0} end
local groups = redis.call('XINFO', 'GROUPS', key)
local safe = nil
local found = required == ''
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == required then found = true end
  local bound = nextId(f['last-delivered-id'])
  if tonumber(f['pending']) > 0 then
    local p = redis.call('XPENDING', key, f['name'])
    if p[2] and less(p[2], bound) then bound = p[2] end
  end
  if safe == nil or less(bound, safe) then safe = bound end
end

local atCap = 0
if not found then
  local len = redis.call('XLEN', key)
  if maxLen > 0 and len >= maxLen then atCap = 1 end
  return {1, #groups, safe or '', '', 0, 0, len, atCap, 0}
end
local trimmed, dropped = 0, 0
local minId = nil
if safe then
  minId = safe
  if keepCount > 0 and redis.call('XLEN', key) <= keepCount then
    minId = nil  -- no more entries than it keeps: none to look up
  elseif keepCount > 0 then
    local kept = nthBelow(safe, keepCount)
    if kept == nil then minId = nil elseif less(kept, minId) then minId = kept end
  end
  if minId and cutoff ~= '' and less(cutoff, minId) then minId = cutoff end
  if minId then trimmed = redis.call('XTRIM', key, 'MINID', '=', minId) end
end
local len = redis.call('XLEN', key)
if maxLen > 0 and len > maxLen then
  if safe then
    trimmed = trimmed + redis.call('XTRIM', key, 'MINID', '=', safe)
    len = redis.call('XLEN', key)
  end
  if len > maxLen and dropOldest then
    dropped = redis.call('XTRIM', key, 'MAXLEN', '=', maxLen)
    len = redis.call('XLEN', key)
  end
end
if maxLen > 0 and len >= maxLen then atCap = 1 end
return {1, #groups, safe or '', minId or '', trimmed, dropped, len, atCap, 1}
)LUA";
  return script;
}

}  // namespace shoal::probe
