/*
 * Every change of a bilan's synthesis is one Lua script over the bilan's keys (all under its
 * hash tag), so that a write either happens whole or not at all, and version checks and writes
 * cannot interleave with another replica's. Errors are error_reply("<WORD> <message>"), mapped
 * to statuses by syn_fail_script: ABORTED (stale revision), NOT_FOUND, STATE <TYPE> (failed
 * precondition), LIMIT (resource exhausted), EXISTS, DENIED.
 *
 * Times come from the service clock (ARGV), never from Redis, so that tests can move them.
 * Grant state strings are "create_ms|expire_ms|revoke_ms|kind|section mask|grantee".
 */
#include "boussole/err.h"
#include "keys.h"
#include "syntheses.h"

/* KEYS: header, revs. ARGV: id, beneficiary, counselor, organisation, now, sealed content of
 * revision 1, its metadata. Returns 1 (created) or 0 (the same draft again). */
static const char draft_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then return 0 end\n"
    "  return redis.error_reply('EXISTS the bilan already has a synthesis')\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'beneficiary', ARGV[2], 'counselor', ARGV[3],\n"
    "  'organisation', ARGV[4], 'version', '1', 'status', '1', 'revision', '1',\n"
    "  'latest_final', '0', 'create_ms', ARGV[5], 'update_ms', ARGV[5], 'ncomments', '0',\n"
    "  'v1:first', '1')\n"
    "redis.call('HSET', KEYS[2], 'c1', ARGV[6], 'm1', ARGV[7])\n"
    "return 1\n";

/* KEYS: header, revs, access. ARGV: revision ('0': current), '1' to log the read, then the
 * log's ms, reader, role, channel, section mask. Returns {header, rev, content, meta, note}. */
static const char load_lua[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "if #h == 0 then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "local rev = ARGV[1]\n"
    "if rev == '0' then rev = redis.call('HGET', KEYS[1], 'revision') end\n"
    "local c = redis.call('HMGET', KEYS[2], 'c' .. rev, 'm' .. rev, 'n' .. rev)\n"
    "if not c[1] or not c[2] then return redis.error_reply('NOT_FOUND no such revision') end\n"
    "if ARGV[2] == '1' then\n"
    "  local ver = string.match(c[2], '^(%d+)|') or '0'\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', " SYN_ACCESS_LOG_MAX ", '*', 'ms', ARGV[3],\n"
    "    'reader', ARGV[4], 'role', ARGV[5],\n"
    "    'ver', ver, 'rev', rev, 'grants', '', 'channel', ARGV[6], 'sections', ARGV[7])\n"
    "end\n"
    "return {h, rev, c[1], c[2], c[3] or ''}\n";

/* KEYS: header, revs. ARGV: base revision, sealed content, metadata, sealed note or '',
 * 'c' (counselor) or 'b' (beneficiary), now, most revisions. Returns the new revision. */
static const char commit_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'revision', 'status')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "if h[1] ~= ARGV[1] then\n"
    "  return redis.error_reply('ABORTED the synthesis changed: revision ' .. h[1] ..\n"
    "    ' is current, the save started from ' .. ARGV[1])\n"
    "end\n"
    "if h[2] == '4' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_FINAL the version is final; start a correction')\n"
    "end\n"
    "local n = tonumber(h[1]) + 1\n"
    "if n > tonumber(ARGV[7]) then return redis.error_reply('LIMIT too many revisions') end\n"
    "redis.call('HSET', KEYS[2], 'c' .. n, ARGV[2], 'm' .. n, ARGV[3])\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'n' .. n, ARGV[4]) end\n"
    "redis.call('HSET', KEYS[1], 'revision', tostring(n), 'update_ms', ARGV[6])\n"
    "if ARGV[5] == 'c' and h[2] == '2' then redis.call('HSET', KEYS[1], 'status', '1') end\n"
    "return n\n";

/* KEYS: header. ARGV: base revision, now. Returns 1, or 0 when already submitted there. */
static const char submit_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'revision', 'status', 'version')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "if h[1] ~= ARGV[1] then\n"
    "  return redis.error_reply('ABORTED revision ' .. h[1] .. ' is current, not ' .. ARGV[1])\n"
    "end\n"
    "if h[2] == '2' then return 0 end\n"
    "if h[2] == '4' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_FINAL the version is final')\n"
    "end\n"
    "local v = 'v' .. h[3]\n"
    "redis.call('HSET', KEYS[1], 'status', '2', v .. ':sub', ARGV[1], v .. ':sub_ms', ARGV[2],\n"
    "  'update_ms', ARGV[2])\n"
    "return 1\n";

/* KEYS: header, comments, cids. ARGV: base revision, comment id, sealed comment, now, most
 * comments. */
static const char request_changes_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'revision', 'status', 'ncomments')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "if h[2] ~= '2' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_NOT_SUBMITTED the synthesis is not submitted')\n"
    "end\n"
    "if h[1] ~= ARGV[1] then\n"
    "  return redis.error_reply('ABORTED revision ' .. h[1] .. ' is current, not ' .. ARGV[1])\n"
    "end\n"
    "if tonumber(h[3]) >= tonumber(ARGV[5]) then\n"
    "  return redis.error_reply('LIMIT too many comments')\n"
    "end\n"
    "if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 1 then\n"
    "  redis.call('RPUSH', KEYS[3], ARGV[2])\n"
    "  redis.call('HINCRBY', KEYS[1], 'ncomments', 1)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', '3', 'update_ms', ARGV[4])\n"
    "return 1\n";

/* KEYS: header. ARGV: revision, approver, now. Returns 1, or 0 when it was final already. */
static const char approve_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'revision', 'status', 'version')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "local v = 'v' .. h[3]\n"
    "if h[2] == '4' then\n"
    "  if redis.call('HGET', KEYS[1], v .. ':final') == ARGV[1] then return 0 end\n"
    "  return redis.error_reply('STATE SYNTHESIS_FINAL the version is final at another revision')\n"
    "end\n"
    "if h[2] ~= '2' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_NOT_SUBMITTED the synthesis is not submitted')\n"
    "end\n"
    "if h[1] ~= ARGV[1] then\n"
    "  return redis.error_reply('ABORTED revision ' .. h[1] .. ' is current, not ' .. ARGV[1])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', '4', v .. ':final', ARGV[1], v .. ':final_ms',\n"
    "  ARGV[3], v .. ':approved_by', ARGV[2], 'latest_final', h[3], 'update_ms', ARGV[3])\n"
    "return 1\n";

/* KEYS: header, revs. ARGV: base revision, sealed content (for the new revision), metadata,
 * sealed reason, corrector, now, most revisions, most versions. Returns the new revision. */
static const char correct_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'revision', 'status', 'version')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "if h[2] ~= '4' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_NOT_FINAL only a final synthesis is corrected')\n"
    "end\n"
    "if h[1] ~= ARGV[1] then\n"
    "  return redis.error_reply('ABORTED revision ' .. h[1] .. ' is current, not ' .. ARGV[1])\n"
    "end\n"
    "local v = tonumber(h[3]) + 1\n"
    "local n = tonumber(h[1]) + 1\n"
    "if v > tonumber(ARGV[8]) then return redis.error_reply('LIMIT too many versions') end\n"
    "if n > tonumber(ARGV[7]) then return redis.error_reply('LIMIT too many revisions') end\n"
    "redis.call('HSET', KEYS[2], 'c' .. n, ARGV[2], 'm' .. n, ARGV[3])\n"
    "local p = 'v' .. v\n"
    "redis.call('HSET', KEYS[1], 'version', tostring(v), 'status', '1', 'revision', tostring(n),\n"
    "  p .. ':first', tostring(n), p .. ':reason', ARGV[4], p .. ':corrected_by', ARGV[5],\n"
    "  'update_ms', ARGV[6])\n"
    "return n\n";

/* KEYS: header, comments, cids. ARGV: comment id, sealed comment, most comments. */
static const char comment_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'status', 'ncomments')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "if h[1] == '4' then\n"
    "  return redis.error_reply('STATE SYNTHESIS_FINAL a final version takes no comments')\n"
    "end\n"
    "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end\n"
    "if tonumber(h[2]) >= tonumber(ARGV[3]) then\n"
    "  return redis.error_reply('LIMIT too many comments')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
    "redis.call('HINCRBY', KEYS[1], 'ncomments', 1)\n"
    "return 1\n";

/* KEYS: header, grants, tokens, grantees. ARGV: grant id, sealed grant, state, token hash or
 * '', grantee member or '', most grants. */
static const char grant_create_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  return redis.error_reply('NOT_FOUND no synthesis for this bilan')\n"
    "end\n"
    "if redis.call('HEXISTS', KEYS[2], 's' .. ARGV[1]) == 1 then return 0 end\n"
    "if redis.call('HLEN', KEYS[2]) >= 2 * tonumber(ARGV[6]) then\n"
    "  return redis.error_reply('LIMIT too many grants for this synthesis')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'g' .. ARGV[1], ARGV[2], 's' .. ARGV[1], ARGV[3])\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[1]) end\n"
    "if ARGV[5] ~= '' then redis.call('SADD', KEYS[4], ARGV[5]) end\n"
    "return 1\n";

/* KEYS: grants. ARGV: grant id, now. Returns {state, sealed grant}. */
static const char grant_revoke_lua[] =
    "local s = redis.call('HGET', KEYS[1], 's' .. ARGV[1])\n"
    "if not s then return redis.error_reply('NOT_FOUND no such grant') end\n"
    "local c, e, r, rest = string.match(s, '^(%d+)|(%d+)|(%d+)|(.*)$')\n"
    "if not c then return redis.error_reply('INTERNAL unreadable grant state') end\n"
    "if r == '0' then\n"
    "  s = c .. '|' .. e .. '|' .. ARGV[2] .. '|' .. rest\n"
    "  redis.call('HSET', KEYS[1], 's' .. ARGV[1], s)\n"
    "end\n"
    "return {s, redis.call('HGET', KEYS[1], 'g' .. ARGV[1])}\n";

/* The end of both shared reads: the latest final version's content, logged. */
#define SHARED_READ_TAIL                                                                           \
    "local lf = redis.call('HGET', KEYS[1], 'latest_final')\n"                                     \
    "if not lf then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"       \
    "if lf == '0' then\n"                                                                          \
    "  return redis.error_reply('STATE SYNTHESIS_NOT_FINAL the synthesis is not final yet')\n"     \
    "end\n"                                                                                        \
    "local rev = redis.call('HGET', KEYS[1], 'v' .. lf .. ':final')\n"                             \
    "local fms = redis.call('HGET', KEYS[1], 'v' .. lf .. ':final_ms')\n"                          \
    "local c = redis.call('HGET', KEYS[2], 'c' .. rev)\n"                                          \
    "if not c then return redis.error_reply('NOT_FOUND no such revision') end\n"                   \
    "redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', " SYN_ACCESS_LOG_MAX ", '*', 'ms', ARGV[2],\n" \
    "  'reader', ARGV[4], 'role',\n"                                                               \
    "  ARGV[5], 'ver', lf, 'rev', rev, 'grants', table.concat(ids, ','), 'channel',\n"             \
    "  ARGV[3], 'sections', tostring(mask))\n"                                                     \
    "return {ids, states, tostring(mask), lf, rev, fms, c}\n"

/* KEYS: header, revs, grants, tokens, access. ARGV: token hash, now, channel, '', '0'. */
static const char read_token_lua[] =
    "local gid = redis.call('HGET', KEYS[4], ARGV[1])\n"
    "if not gid then return redis.error_reply('NOT_FOUND unknown share token') end\n"
    "local s = redis.call('HGET', KEYS[3], 's' .. gid)\n"
    "if not s then return redis.error_reply('NOT_FOUND unknown share token') end\n"
    "local c, e, r, k, m = string.match(s, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|')\n"
    "if not c then return redis.error_reply('INTERNAL unreadable grant state') end\n"
    "if r ~= '0' then return redis.error_reply('DENIED this grant was revoked') end\n"
    "if tonumber(e) <= tonumber(ARGV[2]) then\n"
    "  return redis.error_reply('DENIED this grant has expired')\n"
    "end\n"
    "local ids, states, mask = {gid}, {s}, tonumber(m)\n" SHARED_READ_TAIL;

/* KEYS: header, revs, grants, access. ARGV: grantee subject, now, channel, reader, role. */
static const char read_account_lua[] =
    "local all = redis.call('HGETALL', KEYS[3])\n"
    "local ids, states, mask = {}, {}, 0\n"
    "for i = 1, #all, 2 do\n"
    "  if string.sub(all[i], 1, 1) == 's' then\n"
    "    local c, e, r, k, m, who = string.match(all[i + 1],\n"
    "      '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(.*)$')\n"
    "    if who == ARGV[1] and r == '0' and tonumber(e) > tonumber(ARGV[2]) then\n"
    "      table.insert(ids, string.sub(all[i], 2))\n"
    "      table.insert(states, all[i + 1])\n"
    "      mask = bit.bor(mask, tonumber(m))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #ids == 0 then return redis.error_reply('NOT_FOUND no such bilan') end\n" SHARED_READ_TAIL;

/* KEYS: retention, decisions. ARGV: keep ('1'/'0'), now, packed decision, beneficiary, most
 * decisions. */
static const char consent_lua[] =
    "if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[5]) then\n"
    "  return redis.error_reply('LIMIT too many decisions')\n"
    "end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[3])\n"
    "redis.call('HSET', KEYS[1], 'keep', ARGV[1], 'keep_ms', ARGV[2], 'beneficiary', ARGV[4])\n"
    "return 1\n";

/* KEYS: header, revs. ARGV: first revision ('0': the current one), how many. Returns
 * {current, first, meta, note, meta, note, ...} from the first revision downwards. */
static const char list_revs_lua[] =
    "local cur = redis.call('HGET', KEYS[1], 'revision')\n"
    "if not cur then return redis.error_reply('NOT_FOUND no synthesis for this bilan') end\n"
    "local first = tonumber(ARGV[1])\n"
    "if first == 0 or first > tonumber(cur) then first = tonumber(cur) end\n"
    "local out = {cur, tostring(first)}\n"
    "local last = first - tonumber(ARGV[2]) + 1\n"
    "if last < 1 then last = 1 end\n"
    "for n = first, last, -1 do\n"
    "  local r = redis.call('HMGET', KEYS[2], 'm' .. n, 'n' .. n)\n"
    "  table.insert(out, r[1] or '')\n"
    "  table.insert(out, r[2] or '')\n"
    "end\n"
    "return out\n";

/* KEYS: cids, comments. ARGV: offset, count. Returns {total, id, sealed, id, sealed, ...}. */
static const char list_comments_lua[] =
    "local total = redis.call('LLEN', KEYS[1])\n"
    "local ids = redis.call('LRANGE', KEYS[1], tonumber(ARGV[1]),\n"
    "  tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)\n"
    "local out = {tostring(total)}\n"
    "for _, id in ipairs(ids) do\n"
    "  table.insert(out, id)\n"
    "  table.insert(out, redis.call('HGET', KEYS[2], id) or '')\n"
    "end\n"
    "return out\n";

/* KEYS: every key of the bilan. Returns how many existed. */
static const char erase_lua[] = "return redis.call('DEL', unpack(KEYS))\n";

/* KEYS: header, retention, grantees. Returns {beneficiary, organisation, grantee members}:
 * what erasure must clean outside the bilan's keys. */
static const char erase_facts_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'beneficiary', 'organisation')\n"
    "local r = redis.call('HMGET', KEYS[2], 'beneficiary', 'organisation')\n"
    "return {h[1] or r[1] or '', h[2] or r[2] or '', redis.call('SMEMBERS', KEYS[3])}\n";

/* KEYS: header, revs, comments, cids, grants, access, retention, decisions. ARGV: content
 * budget in bytes, then the access log fields (ms, reader, role, channel) of the read.
 * Returns {header, metas {n, meta, note}..., contents {n, content}..., truncated, comments
 * {id, sealed}..., grants (HGETALL), access log (newest 1000), retention (HGETALL), decisions}.
 * The read of the current content is logged. */
static const char export_lua[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local metas, contents, truncated = {}, {}, '0'\n"
    "if #h > 0 then\n"
    "  local cur = tonumber(redis.call('HGET', KEYS[1], 'revision'))\n"
    "  local budget, used = tonumber(ARGV[1]), 0\n"
    "  for n = cur, 1, -1 do\n"
    "    local r = redis.call('HMGET', KEYS[2], 'm' .. n, 'n' .. n)\n"
    "    table.insert(metas, {tostring(n), r[1] or '', r[2] or ''})\n"
    "    if truncated == '0' then\n"
    "      local len = redis.call('HSTRLEN', KEYS[2], 'c' .. n)\n"
    "      if used + len <= budget then\n"
    "        used = used + len\n"
    "        table.insert(contents, {tostring(n), redis.call('HGET', KEYS[2], 'c' .. n) or ''})\n"
    "      else\n"
    "        truncated = '1'\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  local ver = redis.call('HGET', KEYS[1], 'version')\n"
    "  redis.call('XADD', KEYS[6], 'MAXLEN', '~', " SYN_ACCESS_LOG_MAX ", '*', 'ms', ARGV[2],\n"
    "    'reader', ARGV[3], 'role', ARGV[4],\n"
    "    'ver', ver, 'rev', tostring(cur), 'grants', '', 'channel', ARGV[5], 'sections',\n"
    "    ARGV[6])\n"
    "end\n"
    "local comments = {}\n"
    "for _, id in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do\n"
    "  table.insert(comments, {id, redis.call('HGET', KEYS[3], id) or ''})\n"
    "end\n"
    "return {h, metas, contents, truncated, comments, redis.call('HGETALL', KEYS[5]),\n"
    "  redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1000),\n"
    "  redis.call('HGETALL', KEYS[7]), redis.call('LRANGE', KEYS[8], 0, -1)}\n";

/* KEYS: the lock. ARGV: this holder's token. Deletes the lock only if it is still ours. */
static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  return redis.call('DEL', KEYS[1])\n"
                                 "end\n"
                                 "return 0\n";

/* KEYS: retention, grants, header. ARGV: now. Returns {keep, mode, sessions_erased, latest
 * expiry of a live CEP grant (0: none), organisation, has data (0/1), end_ms, due_ms}. */
static const char retention_facts_lua[] =
    "local r = redis.call('HMGET', KEYS[1], 'keep', 'mode', 'sessions_erased', 'organisation',\n"
    "  'end_ms', 'due_ms')\n"
    "local g = redis.call('HGETALL', KEYS[2])\n"
    "local cep = 0\n"
    "local now = tonumber(ARGV[1])\n"
    "for i = 1, #g, 2 do\n"
    "  if string.sub(g[i], 1, 1) == 's' then\n"
    "    local c, e, rv, k = string.match(g[i + 1], '^(%d+)|(%d+)|(%d+)|(%d+)|')\n"
    "    e = tonumber(e)\n"
    "    if k == '1' and rv == '0' and e > now and e > cep then cep = e end\n"
    "  end\n"
    "end\n"
    "local org = r[4] or redis.call('HGET', KEYS[3], 'organisation') or ''\n"
    "local data = redis.call('EXISTS', KEYS[1], KEYS[3])\n"
    "return {r[1] or '0', r[2] or '', r[3] or '0', tostring(cep), org, tostring(data),\n"
    "  r[5] or '0', r[6] or '0'}\n";

/* KEYS: retention, header. ARGV: mode ('all' or 'synthesis'), end_ms, due_ms. Records that the
 * bilan's documents are held, with who took part (the sessions service may forget them). */
static const char hold_lua[] =
    "local h = redis.call('HMGET', KEYS[2], 'beneficiary', 'counselor', 'organisation')\n"
    "redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'end_ms', ARGV[2], 'due_ms', ARGV[3])\n"
    "if h[1] then\n"
    "  redis.call('HSET', KEYS[1], 'beneficiary', h[1], 'counselor', h[2], 'organisation', h[3])\n"
    "end\n"
    "return 1\n";

/* KEYS: the access log. ARGV: start, count. A page of the log, and how many of its oldest
 * entries the length cap (SYN_ACCESS_LOG_MAX) has dropped: entries ever added minus entries
 * kept. */
static const char access_page_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {{}, 0} end\n"
    "local info = redis.call('XINFO', 'STREAM', KEYS[1])\n"
    "local added, length = 0, 0\n"
    "for i = 1, #info, 2 do\n"
    "  if info[i] == 'entries-added' then added = info[i + 1] end\n"
    "  if info[i] == 'length' then length = info[i + 1] end\n"
    "end\n"
    "return {redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2]), added - length}\n";

int syn_scripts_add(syn_app *app)
{
    const struct {
        const char *body;
        bsl_redis_script **out;
    } all[] = {
        { draft_lua, &app->scripts.draft },
        { load_lua, &app->scripts.load },
        { commit_lua, &app->scripts.commit },
        { submit_lua, &app->scripts.submit },
        { request_changes_lua, &app->scripts.request_changes },
        { approve_lua, &app->scripts.approve },
        { correct_lua, &app->scripts.correct },
        { comment_lua, &app->scripts.comment },
        { grant_create_lua, &app->scripts.grant_create },
        { grant_revoke_lua, &app->scripts.grant_revoke },
        { read_token_lua, &app->scripts.read_token },
        { read_account_lua, &app->scripts.read_account },
        { consent_lua, &app->scripts.consent },
        { erase_lua, &app->scripts.erase },
        { unlock_lua, &app->scripts.unlock },
        { retention_facts_lua, &app->scripts.retention_facts },
        { list_revs_lua, &app->scripts.list_revs },
        { list_comments_lua, &app->scripts.list_comments },
        { erase_facts_lua, &app->scripts.erase_facts },
        { hold_lua, &app->scripts.hold },
        { export_lua, &app->scripts.export },
        { access_page_lua, &app->scripts.access_page },
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int rv = bsl_redis_script_add(app->redis, all[i].body, all[i].out);
        if (rv != BSL_OK) {
            return rv;
        }
    }
    return BSL_OK;
}
