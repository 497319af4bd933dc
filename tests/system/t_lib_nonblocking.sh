#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_lib_nonblocking.sh - a mechanical part of "nothing blocks inside the
# batch" (docs/library.md, "Nothing blocks"): among libmgcall's objects only
# auth/tokens_get.c (the blocking mgc__tokens_get of `mgcall token`) and
# auth/token_cache.c (the cache file, written by the cache writer's thread)
# call a blocking primitive (curl_easy_perform, sleeps, fsync, poll/select);
# the batch, the attempt and the token request code call neither those nor
# mgc__tokens_get, and only the cache writer calls mgc__token_cache_write.
. "$(dirname "$0")/lib.sh"

objs="$MGCALL_BUILD_DIR/lib/CMakeFiles/mgcall_obj.dir"
t_ok '[ -f "$objs/batch.c.o" ] && [ -f "$objs/auth/tokens_get.c.o" ]' \
  "the library's object files are there ($objs)"
blocking='^(curl_easy_perform|nanosleep|sleep|usleep|clock_nanosleep|fsync|fdatasync|poll|ppoll|select|pselect)$'
users=$(cd "$objs" && for o in *.o auth/*.o; do
  nm -u "$o" | awk '{print $NF}' | grep -Eq "$blocking" && echo "$o"
done | sort | tr '\n' ' ')
t_eq "$users" "auth/token_cache.c.o auth/tokens_get.c.o " \
  "only tokens_get.c and token_cache.c call a blocking primitive"
for o in batch.c.o attempt.c.o auth/tokens.c.o auth/cache_writer.c.o; do
  t_ok '! nm -u "$objs/$o" | grep -Eq " (mgc__tokens_get|curl_easy_perform)$"' \
    "$o calls neither mgc__tokens_get nor curl_easy_perform"
done
writers=$(cd "$objs" && for o in *.o auth/*.o; do
  nm -u "$o" | grep -q ' mgc__token_cache_write$' && echo "$o"
done | tr '\n' ' ')
t_eq "$writers" "auth/cache_writer.c.o " \
  "only the cache writer's thread writes the token cache file"
t_done
