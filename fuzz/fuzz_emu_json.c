/* SPDX-License-Identifier: MIT */
/* fuzz_emu_json.c - the emulator's JSON inputs on arbitrary bytes: the
 * create-call body, a state-file call line and /_emulator/faults settings. */
#include "faults.h"
#include "graph_json.h"
#include "state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[512];
  struct emu_call_request r;
  if(!emu_call_request_parse((const char *)data, size, &r, err, sizeof(err))) {
    if(!r.callback)
      abort();
    emu_call_request_release(&r);
  }
  struct emu_call_info info;
  void *holder;
  if(!emu_state_parse_call((const char *)data, size, &info, &holder)) {
    json_t *o = emu_call_inspect_json(&info);
    json_decref(o);
    json_decref(holder);
  }
  static struct emu_faults *faults;
  if(!faults) {
    struct emu_faults_config cfg;
    emu_faults_config_default(&cfg);
    faults = emu_faults_new(&cfg);
  }
  json_t *settings = json_loadb((const char *)data, size, 0, NULL);
  if(settings && faults) {
    emu_faults_from_json(faults, settings, err, sizeof(err));
    struct emu_fault_decision d;
    emu_faults_decide(faults, EMU_SCOPE_GRAPH, "app", 0, &d);
    if(d.status && (d.status < 400 || d.status > 599))
      abort();
  }
  json_decref(settings);
  return 0;
}
