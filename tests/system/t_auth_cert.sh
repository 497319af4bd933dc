#!/bin/bash
# SPDX-License-Identifier: MIT
# t_auth_cert.sh - certificate credential end to end against the emulator
# (which checks the assertion's signature, aud, exp and thumbprint): PEM with
# PS256 and RS256, the chain (x5c), PKCS#12 made with the openssl CLI, the
# environment variables, wrong password / expired / unreadable file (3),
# and client_assertion redacted in --debug.
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH AZURE_CLIENT_CERTIFICATE_PASSWORD \
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL \
  AZURE_AUTHORITY_HOST IDENTITY_ENDPOINT IDENTITY_HEADER https_proxy HTTPS_PROXY
export XDG_CACHE_HOME="$T/cache"
REC="$T/record.jsonl"
C="$T/client"
mkdir -p "$C"

# the application's certificate: PEM (cert + key) and PKCS#12
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/app.key" -out "$C/app.crt" \
  -days 2 -subj "/CN=mgcall app" 2>/dev/null
cat "$C/app.crt" "$C/app.key" >"$C/app.pem"
printf 'p12-pa55\n' >"$C/p12pass"
openssl pkcs12 -export -in "$C/app.crt" -inkey "$C/app.key" -out "$C/app.p12" \
  -passout "file:$C/p12pass" 2>/dev/null
printf 'nope\n' >"$C/badpass"
# an expired certificate (2020-01-01 .. 2020-01-02) with openssl ca
mkdir -p "$C/ca" && : >"$C/ca/index.txt" && echo 01 >"$C/ca/serial"
cat >"$C/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $C/ca/index.txt
serial = $C/ca/serial
new_certs_dir = $C/ca
default_md = sha256
policy = p
[p]
commonName = supplied
CNF
openssl req -new -newkey rsa:2048 -nodes -keyout "$C/old.key" -out "$C/old.csr" \
  -subj "/CN=old" 2>/dev/null
openssl ca -batch -config "$C/ca.cnf" -selfsign -keyfile "$C/old.key" \
  -in "$C/old.csr" -out "$C/old.crt" -startdate 20200101000000Z \
  -enddate 20200102000000Z >/dev/null 2>&1
cat "$C/old.crt" "$C/old.key" >"$C/old.pem"

t_make_cert || { t_fail "cannot make certificates"; t_done; exit 1; }
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client-cert "app-c:$C/app.crt" --record "$REC" || { t_done; exit 1; }

COMMON=(--tenant-id tenant-c --client-id app-c --authority-url "$EMU_URL"
  --cacert "$EMU_CA" --no-token-cache)

t_expect_exit 0 "PEM certificate, PS256" -- \
  "$MGCALL" token --json --certificate "$C/app.pem" "${COMMON[@]}"
t_eq "$(jq -r .clientId "$T/out")" "app-c" "app id from the certificate login"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-c" "tenant"
t_eq "$(jq -r .tokenCredentialType "$T/out")" "ClientCertificate" "credential type"

t_expect_exit 0 "PEM certificate, RS256" -- \
  "$MGCALL" token --raw --certificate "$C/app.pem" --assertion-alg RS256 "${COMMON[@]}"
t_expect_exit 0 "PEM certificate with the chain (x5c)" -- \
  "$MGCALL" token --raw --certificate "$C/app.pem" --send-certificate-chain "${COMMON[@]}"

t_expect_exit 0 "PKCS#12 with password file" -- \
  "$MGCALL" token --json --certificate "$C/app.p12" \
  --certificate-password-file "$C/p12pass" "${COMMON[@]}"
t_eq "$(jq -r .clientId "$T/out")" "app-c" "PKCS#12 token"

t_expect_exit 3 "PKCS#12 with a wrong password" -- \
  "$MGCALL" token --certificate "$C/app.p12" \
  --certificate-password-file "$C/badpass" "${COMMON[@]}"
t_grep "$T/err" "^mgcall: certificate .*app.p12: wrong PKCS#12 password$" \
  "wrong password message"

t_expect_exit 3 "PKCS#12 without a password" -- \
  "$MGCALL" token --certificate "$C/app.p12" "${COMMON[@]}"
t_grep "$T/err" "needs a password" "missing password message"

t_expect_exit 3 "expired certificate" -- \
  "$MGCALL" token --certificate "$C/old.pem" "${COMMON[@]}"
t_grep "$T/err" "^mgcall: certificate .*old.pem: the certificate expired on 2020-01-02T00:00:00Z$" \
  "expired certificate message"

t_expect_exit 3 "unreadable certificate file" -- \
  "$MGCALL" token --certificate "$C/none.pem" "${COMMON[@]}"
t_grep "$T/err" "^mgcall: certificate .*none.pem: No such file or directory$" \
  "unreadable file message"

t_expect_exit 3 "certificate without its key" -- \
  "$MGCALL" token --certificate "$C/app.crt" "${COMMON[@]}"
t_grep "$T/err" "no private key" "missing key message"

t_expect_exit 3 "certificate the emulator does not know" -- \
  "$MGCALL" token --certificate "$C/app.pem" --tenant-id tenant-c \
  --client-id app-other --authority-url "$EMU_URL" --cacert "$EMU_CA" --no-token-cache
t_grep "$T/err" "^mgcall: token: token endpoint refused: .*AADSTS" "AAD error verbatim"

t_expect_exit 0 "certificate from the environment" -- \
  env AZURE_TENANT_ID=tenant-e AZURE_CLIENT_ID=app-c \
  AZURE_CLIENT_CERTIFICATE_PATH="$C/app.p12" \
  AZURE_CLIENT_CERTIFICATE_PASSWORD=p12-pa55 \
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1 MGCALL_AUTHORITY_URL="$EMU_URL" \
  "$MGCALL" token --json --cacert "$EMU_CA" --no-token-cache
t_eq "$(jq -r .tenantId "$T/out")" "tenant-e" "env certificate: tenant"
t_eq "$(jq -r .tokenCredentialType "$T/out")" "ClientCertificate" "env certificate: type"

t_expect_exit 0 "--debug with a certificate" -- \
  "$MGCALL" token --raw --debug --certificate "$C/app.pem" "${COMMON[@]}"
t_grep "$T/err" 'client_assertion=\[REDACTED\]' "client_assertion redacted"
t_grep "$T/err" 'client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer' \
  "assertion type sent"
t_nogrep "$T/err" 'client_assertion=eyJ' "no assertion in --debug"
t_nogrep "$T/err" "$(head -c 40 "$T/out")" "token absent from --debug"
t_nogrep "$REC" 'client_assertion=eyJ' "no assertion in the emulator's record"
t_done
