/* SPDX-License-Identifier: MIT */
/* cloud.c - endpoints of the Graph national clouds (SPEC section 3; the
 * values of the PowerShell SDK's GraphEnvironmentConstants). */
#include "cloud.h"

#include "mgcall/mgcall.h"

#include <stddef.h>
#include <strings.h>

static const struct mgc_cloud clouds[] = {
    {"Global", "https://login.microsoftonline.com",
     "https://graph.microsoft.com"},
    {"USGov", "https://login.microsoftonline.us", "https://graph.microsoft.us"},
    {"USGovDoD", "https://login.microsoftonline.us",
     "https://dod-graph.microsoft.us"},
    {"China", "https://login.chinacloudapi.cn",
     "https://microsoftgraph.chinacloudapi.cn"},
};

#define NCLOUDS (sizeof(clouds) / sizeof(clouds[0]))

const struct mgc_cloud *mgc__cloud_find(const char *name)
{
  if(!name)
    return &clouds[0];
  for(size_t i = 0; i < NCLOUDS; i++)
    if(!strcasecmp(clouds[i].name, name))
      return &clouds[i];
  return NULL;
}

const struct mgc_cloud *mgc__cloud_at(unsigned i)
{
  return i < NCLOUDS ? &clouds[i] : NULL;
}

const char *mgcall_cloud_name(const char *environment)
{
  const struct mgc_cloud *cloud = mgc__cloud_find(environment);
  return cloud ? cloud->name : NULL;
}

int mgc__cloud_is_graph(const char *url)
{
  if(!url)
    return 0;
  for(size_t i = 0; i < NCLOUDS; i++)
    if(!strcasecmp(clouds[i].graph, url))
      return 1;
  return 0;
}
