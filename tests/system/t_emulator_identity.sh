#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall emulator, identity side: the token endpoint (secret by form and
# Basic, certificate assertions PS256/RS256 with x5t#S256/x5t and every
# rejection), Entra-shaped errors, scopes of the four clouds, the OpenID
# configuration + JWKS, IMDS and App Service managed identity, token
# lifetime and expiry.
. "$(dirname "$0")/lib.sh"

req() {
  local m=$1 p=$2
  shift 2
  S=$(t_curl -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$EMU_URL$p" "$@")
}
body() { jq -r "$1" "$T/body"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
claims_of() { cut -d. -f2 <<<"$1" | tr '_-' '/+' | { read -r s; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s"; } | openssl base64 -d -A; }

# token TENANT FORM-ARGS...: POST the token endpoint.
token() {
  local tenant=$1
  shift
  req POST "/$tenant/oauth2/v2.0/token" "$@"
}
# aad_check STATUS ERROR CODE WHAT: the last answer is an Entra-shaped error.
aad_check() {
  t_eq "$S" "$1" "$4: HTTP $1"
  t_eq "$(body .error)" "$2" "$4: error $2"
  t_eq "$(body '.error_codes[0]')" "$3" "$4: error_codes [$3]"
  t_grep "$T/body" "\"error_description\":\"AADSTS$3: " "$4: description starts with AADSTS$3"
  t_eq "$(body '.trace_id != null and .correlation_id != null and .timestamp != null')" true \
    "$4: trace_id, correlation_id, timestamp"
}

GRAPH=https://graph.microsoft.com/.default
FORM=(--data-urlencode grant_type=client_credentials --data-urlencode "scope=$GRAPH")

# Certificates for client assertions.
P="$T/pki-client"
mkdir -p "$P"
for n in a b; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/$n.key" -out "$P/$n.pem" \
    -days 2 -subj "/CN=client-$n" 2>/dev/null
done
printf 'file-secret\n' >"$P/secret"
chmod 600 "$P/secret"

t_emulator_start --client app1:s3cret --client app3:@"$P/secret" --client-cert app2:"$P/a.pem" \
  --managed-identity mi-1 --managed-identity mi-2@tenant-mi --token-lifetime 10m \
  --roles Calls.Initiate.All,Calls.AccessMedia.All || { t_done; exit 1; }
TOKEN_URL="$EMU_URL/t1/oauth2/v2.0/token"

# ---- client secret ------------------------------------------------------------
token t1 "${FORM[@]}" --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
t_eq "$S" 200 "secret in the form: 200"
t_eq "$(body .token_type)" Bearer "token_type Bearer"
t_eq "$(body .expires_in)" 600 "expires_in follows --token-lifetime 10m"
TOK=$(body .access_token)
C=$(claims_of "$TOK")
t_eq "$(jq -r .aud <<<"$C")" https://graph.microsoft.com "claims: aud"
t_eq "$(jq -r .tid <<<"$C")" t1 "claims: tid"
t_eq "$(jq -r .appid <<<"$C")" app1 "claims: appid"
t_eq "$(jq -r .iss <<<"$C")" "https://sts.windows.net/t1/" "claims: iss"
t_eq "$(jq -r '.roles | join(",")' <<<"$C")" "Calls.Initiate.All,Calls.AccessMedia.All" "claims: roles from --roles"
t_eq "$(jq -r '.exp - .iat' <<<"$C")" 600 "claims: exp = iat + lifetime"
t_eq "$(jq -r '(.nbf | type)' <<<"$C")" number "claims: nbf"
t_eq "$(cut -d. -f1 <<<"$TOK" | tr '_-' '/+' | { read -r s; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s"; } | openssl base64 -d -A | jq -r .alg)" RS256 "token header: RS256"

token t1 "${FORM[@]}" -u app1:s3cret
t_eq "$S" 200 "secret by HTTP Basic: 200"
token t1 "${FORM[@]}" --data-urlencode client_id=app3 --data-urlencode client_secret=file-secret
t_eq "$S" 200 "--client ID:@FILE reads the secret from the file"

token t1 "${FORM[@]}" --data-urlencode client_id=app1 --data-urlencode client_secret=wrong -H 'client-request-id: 11111111-2222-4333-8444-555555555555'
aad_check 401 invalid_client 7000215 "wrong secret"
t_eq "$(body .correlation_id)" 11111111-2222-4333-8444-555555555555 "correlation_id = client-request-id"
token t1 "${FORM[@]}" -u app1:wrong
aad_check 401 invalid_client 7000215 "wrong secret by Basic"
token t1 "${FORM[@]}" --data-urlencode client_id=nobody --data-urlencode client_secret=x
aad_check 400 unauthorized_client 700016 "unknown client"
token t1 "${FORM[@]}" --data-urlencode client_id=app1
aad_check 401 invalid_client 7000218 "no secret and no assertion"
token t1 --data-urlencode grant_type=client_credentials --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
aad_check 400 invalid_request 900144 "no scope"
token t1 --data-urlencode "scope=$GRAPH" --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
aad_check 400 invalid_request 900144 "no grant_type"
token t1 --data-urlencode grant_type=password --data-urlencode "scope=$GRAPH" --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
aad_check 400 unsupported_grant_type 70003 "unsupported grant"
token t1 --data-urlencode grant_type=client_credentials --data-urlencode scope=https://example.com/.default --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
aad_check 400 invalid_scope 70011 "scope of another resource"
token t1 --data-urlencode grant_type=client_credentials --data-urlencode scope=https://graph.microsoft.com/Calls.Initiate.All --data-urlencode client_id=app1 --data-urlencode client_secret=s3cret
t_eq "$(body .error)" invalid_scope "scope without /.default: invalid_scope"
req GET /t1/oauth2/v2.0/token
aad_check 400 invalid_request 900561 "GET on the token endpoint"
token t1 -d 'grant_type=client_credentials&scope=%ZZ'
aad_check 400 invalid_request 9002313 "malformed form"

# Scopes of the four clouds, Graph's app id and the emulator's own URL.
for res in https://graph.microsoft.com https://graph.microsoft.us https://dod-graph.microsoft.us \
  https://microsoftgraph.chinacloudapi.cn "$EMU_URL"; do
  token t1 --data-urlencode grant_type=client_credentials --data-urlencode "scope=$res/.default" -u app1:s3cret
  t_eq "$S $(claims_of "$(body .access_token)" | jq -r .aud)" "200 $res" "scope $res/.default -> aud"
done
token t1 --data-urlencode grant_type=client_credentials --data-urlencode "scope=00000003-0000-0000-c000-000000000000/.default" -u app1:s3cret
t_eq "$S" 200 "scope by Graph's application id"

# A token for the emulator's own URL works on its Graph endpoints.
OWN=$(t_emulator_token t1 app1 s3cret "$EMU_URL/.default")
req POST /v1.0/communications/calls/00000000-0000-4000-8000-000000000000/keepAlive -H "Authorization: Bearer $OWN"
t_eq "$S" 404 "aud = emulator URL is accepted by Graph (404: no such call)"

# ---- certificate assertions -------------------------------------------------------------
# assertion ALG KEY CERT THUMB(s256|s1|none) ISS SUB AUD EXP_OFFSET NBF_OFFSET
assertion() {
  local alg=$1 key=$2 cert=$3 th=$4 iss=$5 sub=$6 aud=$7 exp=$8 nbf=$9
  local now hdr thumb clm input sig
  now=$(date +%s)
  case $th in
    s256) thumb=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha256 -binary | b64url)
      hdr="{\"alg\":\"$alg\",\"typ\":\"JWT\",\"x5t#S256\":\"$thumb\"}" ;;
    s1) thumb=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha1 -binary | b64url)
      hdr="{\"alg\":\"$alg\",\"typ\":\"JWT\",\"x5t\":\"$thumb\"}" ;;
    *) hdr="{\"alg\":\"$alg\",\"typ\":\"JWT\"}" ;;
  esac
  clm="{\"aud\":\"$aud\",\"iss\":\"$iss\",\"sub\":\"$sub\",\"jti\":\"$RANDOM$RANDOM\",\"nbf\":$((now + nbf)),\"iat\":$now,\"exp\":$((now + exp))}"
  input="$(printf '%s' "$hdr" | b64url).$(printf '%s' "$clm" | b64url)"
  case $alg in
    PS256) sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 | b64url) ;;
    *) sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" | b64url) ;;
  esac
  printf '%s.%s' "$input" "$sig"
}
# cert_token ASSERTION [CLIENT_ID]
cert_token() {
  token t1 "${FORM[@]}" --data-urlencode "client_id=${2:-app2}" \
    --data-urlencode "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer" \
    --data-urlencode "client_assertion=$1"
}
A="$P/a.key"
AC="$P/a.pem"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 app2 "$TOKEN_URL" 600 0)"
t_eq "$S" 200 "assertion PS256 + x5t#S256: 200"
t_eq "$(claims_of "$(body .access_token)" | jq -r .appid)" app2 "assertion token: appid"
cert_token "$(assertion RS256 "$A" "$AC" s1 app2 app2 "$TOKEN_URL" 600 0)"
t_eq "$S" 200 "assertion RS256 + x5t (SHA-1): 200"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 app2 "$TOKEN_URL" -100 -200)"
t_eq "$S" 200 "assertion expired 100 s ago: accepted within the 5 min skew"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 app2 "$TOKEN_URL" -400 -1000)"
aad_check 401 invalid_client 700024 "assertion expired beyond the skew"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 app2 "$TOKEN_URL" 1000 400)"
aad_check 401 invalid_client 700024 "assertion not valid yet (nbf beyond the skew)"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 app2 "https://login.microsoftonline.com/t1/oauth2/v2.0/token" 600 0)"
aad_check 401 invalid_client 700023 "assertion aud is not this token URL"
cert_token "$(assertion PS256 "$P/b.key" "$AC" s256 app2 app2 "$TOKEN_URL" 600 0)"
aad_check 401 invalid_client 700027 "assertion signed by another key"
cert_token "$(assertion PS256 "$P/b.key" "$P/b.pem" s256 app2 app2 "$TOKEN_URL" 600 0)"
aad_check 401 invalid_client 700027 "assertion with an unregistered certificate"
cert_token "$(assertion PS256 "$A" "$AC" none app2 app2 "$TOKEN_URL" 600 0)"
aad_check 401 invalid_client 700027 "assertion without a thumbprint"
cert_token "$(assertion PS256 "$A" "$AC" s256 other app2 "$TOKEN_URL" 600 0)"
aad_check 401 invalid_client 700021 "assertion iss is not the client id"
cert_token "$(assertion PS256 "$A" "$AC" s256 app2 other "$TOKEN_URL" 600 0)"
aad_check 401 invalid_client 700021 "assertion sub is not the client id"
good=$(assertion PS256 "$A" "$AC" s256 app2 app2 "$TOKEN_URL" 600 0)
cert_token "$(sed 's/^[^.]*/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9/' <<<"$good")"
aad_check 401 invalid_client 5002738 "assertion with alg HS256"
cert_token "not-a-jwt"
aad_check 400 invalid_request 50027 "malformed assertion"
token t1 "${FORM[@]}" --data-urlencode client_id=app2 --data-urlencode client_assertion_type=urn:other \
  --data-urlencode "client_assertion=$good"
aad_check 400 invalid_request 90014 "wrong client_assertion_type"

# ---- OpenID configuration and JWKS ---------------------------------------------------
req GET /t1/v2.0/.well-known/openid-configuration
t_eq "$S" 200 "openid-configuration: 200"
t_eq "$(body .token_endpoint)" "$TOKEN_URL" "openid-configuration: token_endpoint"
t_eq "$(body .issuer)" "$EMU_URL/t1/v2.0" "openid-configuration: issuer"
JWKS=$(body .jwks_uri)
t_eq "$JWKS" "$EMU_URL/t1/discovery/v2.0/keys" "openid-configuration: jwks_uri"
t_eq "$(body '.token_endpoint_auth_methods_supported | index("private_key_jwt") != null')" true "auth methods"
S=$(t_curl -o "$T/body" -w '%{http_code}' "$JWKS")
t_eq "$S" 200 "jwks_uri: 200"
KID=$(cut -d. -f1 <<<"$TOK" | tr '_-' '/+' | { read -r s; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s"; } | openssl base64 -d -A | jq -r .kid)
t_eq "$(body '.keys[0].kid')" "$KID" "jwks: the token's kid"
t_eq "$(body '.keys[0].kty') $(body '.keys[0].e')" "RSA AQAB" "jwks: an RSA key"

# ---- managed identity ---------------------------------------------------------------------
IMDS="/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com"
req GET "$IMDS"
t_eq "$S" 400 "IMDS without Metadata: 400"
t_eq "$(body .error)" bad_request_102 "IMDS without Metadata: bad_request_102"
req GET "$IMDS" -H 'Metadata: true'
t_eq "$S" 200 "IMDS: 200"
t_eq "$(body '.expires_in | type')" string "IMDS: expires_in is a string"
t_eq "$(body '.expires_on | type')" string "IMDS: expires_on is a string"
t_eq "$(body .token_type)" Bearer "IMDS: token_type"
t_eq "$(claims_of "$(body .access_token)" | jq -r .appid)" mi-1 "IMDS: the first identity by default"
req GET "$IMDS&client_id=mi-2" -H 'Metadata: true'
t_eq "$(claims_of "$(body .access_token)" | jq -r '.appid + " " + .tid')" "mi-2 tenant-mi" "IMDS: client_id selects an identity"
req GET "$IMDS&client_id=nobody" -H 'Metadata: true'
t_eq "$S" 400 "IMDS: unknown identity 400"
req GET "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://example.com" -H 'Metadata: true'
t_eq "$S" 400 "IMDS: unknown resource 400"
req GET "/metadata/identity/oauth2/token?resource=https://graph.microsoft.com" -H 'Metadata: true'
t_eq "$S" 400 "IMDS: no api-version 400"
req GET "/metadata/identity/oauth2/token?api-version=2019-08-01&resource=https://graph.microsoft.com" -H 'X-IDENTITY-HEADER: abc'
t_eq "$S" 200 "App Service (X-IDENTITY-HEADER): 200"
t_eq "$(body '.expires_on | type') $(body .client_id)" "string mi-1" "App Service: expires_on string, client_id"

# ---- token expiry -> 401 -----------------------------------------------------------------
t_emulator_start --client app1:s3cret --token-lifetime 1s
SHORT=$(t_emulator_token t1 app1 s3cret)
code=
for _ in $(seq 40); do
  req POST /v1.0/communications/calls/00000000-0000-4000-8000-000000000000/keepAlive -H "Authorization: Bearer $SHORT"
  code=$S
  [ "$code" = 401 ] && break
  sleep 0.1
done
t_eq "$code" 401 "expired token: 401"
t_grep "$T/body" 'expired' "expired token: the message says so"

# ---- open mode: no clients registered ----------------------------------------------------
t_emulator_start
token t9 "${FORM[@]}" --data-urlencode client_id=anyone --data-urlencode client_secret=anything
t_eq "$S" 200 "no --client: any client with a secret gets a token"

# ---- --token-key: two emulators with the same key (a token of one verifies
# at the other; without it each has its own key: 401); a bad key: usage ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/tkey.pem" 2>/dev/null
chmod 600 "$T/tkey.pem"
t_emulator_start --client app1:s3cret --token-key "$T/tkey.pem"
TK1=$(t_emulator_token t1 app1 s3cret)
KID1=$(t_curl "$EMU_URL/t1/discovery/v2.0/keys" | jq -r '.keys[0].kid')
t_emulator_start --client app1:s3cret --token-key "$T/tkey.pem"
t_eq "$(t_curl "$EMU_URL/t1/discovery/v2.0/keys" | jq -r '.keys[0].kid')" "$KID1" \
  "--token-key: the same kid in a second emulator"
req GET /v1.0/communications/calls/00000000-0000-4000-8000-000000000000 -H "Authorization: Bearer $TK1"
t_eq "$S" 404 "--token-key: the first emulator's token verifies at the second (no such call: 404, not 401)"
t_emulator_start --client app1:s3cret
req GET /v1.0/communications/calls/00000000-0000-4000-8000-000000000000 -H "Authorization: Bearer $TK1"
t_eq "$S" 401 "an emulator with another key refuses that token"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/small.pem" 2>/dev/null
t_expect_exit 2 "--token-key with a 1024-bit key: usage error" -- \
  "$MGCALL" emulator --listen 127.0.0.1:0 --token-key "$T/small.pem"
t_grep "$T/err" "want an RSA private key" "--token-key: the error says what it wants"
t_done
