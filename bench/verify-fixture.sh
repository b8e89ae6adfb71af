#!/usr/bin/env bash
# Builds the fixture for comparing `gatehouse verify` with `openssl verify` on the same job:
# a 3-certificate chain (leaf, intermediate sent by the client, root in the bundle), a
# 16-certificate bundle with the right root last, and 25 filters with only the last matching.
# Prints the two commands to time side by side (e.g. with hyperfine or /usr/bin/time).
set -euo pipefail
out="${1:-target/bench-verify}"
gh="${GATEHOUSE_BIN:-$PWD/target/release/gatehouse}"
rm -rf "$out" && mkdir -p "$out" && cd "$out"
for i in $(seq 1 15); do
  "$gh" gen ca --org other -d 300d --common-name "Other Root $i" --ca-cert "o$i.pem" --ca-key "o$i.key" >/dev/null
done
"$gh" gen ca --org Acme -d 300d --common-name "Acme Root" --ca-cert root.pem --ca-key root.key >/dev/null
# The intermediate CA, signed by OpenSSL (Gatehouse issues roots and leaves only).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout inter.key -out inter.csr \
  -subj "/O=Acme/CN=Acme Issuing" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > inter.ext
openssl x509 -req -sha384 -days 200 -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial \
  -out inter.pem -extfile inter.ext 2>/dev/null
"$gh" gen leaf --org Acme --common-name payments.worker.acme -d 90d --ca-cert inter.pem --ca-key inter.key \
  --cert leaf.pem --key leaf.key >/dev/null
cat o*.pem root.pem > bundle.pem
cat leaf.pem inter.pem > chain.pem
{
  printf '{"filters":['
  for i in $(seq 0 23); do printf '{"commonName":"service-%s.acme","organization":"Acme"},' "$i"; done
  printf '{"commonName":"*.worker.acme","organization":"acme"}]}\n'
} > filters.json
echo "gatehouse: $gh verify --ca-bundle $PWD/bundle.pem --cert $PWD/chain.pem --filters $PWD/filters.json"
echo "openssl:   openssl verify -x509_strict -purpose sslclient -CAfile $PWD/bundle.pem -untrusted $PWD/inter.pem $PWD/leaf.pem"
