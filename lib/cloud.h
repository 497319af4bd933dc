/* SPDX-License-Identifier: MIT */
/* cloud.h - the national clouds (Connect-MgGraph -Environment). */
#ifndef MGCALL_CLOUD_H
#define MGCALL_CLOUD_H

struct mgc_cloud {
  const char *name;      /* "Global", "USGov", "USGovDoD", "China" */
  const char *authority; /* login root, no trailing slash */
  const char *graph;     /* Graph root, no trailing slash */
};

/* The cloud named name (case-insensitive), or NULL.  NULL name = Global. */
const struct mgc_cloud *mgc__cloud_find(const char *name);

/* The i-th known cloud (0..), NULL past the end. */
const struct mgc_cloud *mgc__cloud_at(unsigned i);

/* 1 when url (no trailing slash) is the Graph root of a known cloud. */
int mgc__cloud_is_graph(const char *url);

#endif
