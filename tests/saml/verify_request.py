#!/usr/bin/env python3
"""Checks a signed SAML AuthnRequest the way an identity provider would,
with code independent of the Rust SP (cryptography for the HTTP-Redirect
binding's query-string signature, signxml for the HTTP-POST binding's
enveloped XML signature).

Reads ONE JSON object on stdin:

    {"binding": "redirect", "url": "<the full redirect URL>", "cert_pem": "..."}
    {"binding": "post", "saml_request": "<base64>", "cert_pem": "..."}

Prints {"verified": true, "id": "<the request ID>"} when the signature
verifies, {"verified": false, "reason": "..."} when it does not; exit 2 on
bad input.
"""

import base64
import json
import sys
import zlib
from urllib.parse import unquote_plus, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from signxml import XMLVerifier

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def request_id(xml_bytes):
    return etree.fromstring(xml_bytes).get("ID")


def verify_redirect(url, cert):
    # The signed octets are the parameters exactly as they appear in the URL
    # (SAML bindings 3.4.4.1), not re-encoded.
    raw = dict()
    for part in urlsplit(url).query.split("&"):
        name, _, value = part.partition("=")
        raw[name] = value
    for needed in ("SAMLRequest", "SigAlg", "Signature"):
        if needed not in raw:
            return {"verified": False, "reason": "no %s parameter" % needed}
    if unquote_plus(raw["SigAlg"]) != RSA_SHA256:
        return {"verified": False, "reason": "unexpected SigAlg %s" % unquote_plus(raw["SigAlg"])}
    signed = "SAMLRequest=" + raw["SAMLRequest"]
    if "RelayState" in raw:
        signed += "&RelayState=" + raw["RelayState"]
    signed += "&SigAlg=" + raw["SigAlg"]
    signature = base64.b64decode(unquote_plus(raw["Signature"]))
    try:
        cert.public_key().verify(signature, signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return {"verified": False, "reason": "the signature does not verify"}
    deflated = base64.b64decode(unquote_plus(raw["SAMLRequest"]))
    return {"verified": True, "id": request_id(zlib.decompress(deflated, -15))}


def verify_post(saml_request, cert_pem):
    xml = base64.b64decode(saml_request)
    try:
        result = XMLVerifier().verify(xml, x509_cert=cert_pem)
    except Exception as e:  # signxml raises several exception types
        return {"verified": False, "reason": "%s: %s" % (type(e).__name__, e)}
    signed = result.signed_xml
    return {"verified": True, "id": signed.get("ID")}


def main():
    try:
        d = json.loads(sys.stdin.read())
        cert = x509.load_pem_x509_certificate(d["cert_pem"].encode())
        binding = d["binding"]
    except (ValueError, KeyError) as e:
        print("verify_request.py: bad input: %s" % e, file=sys.stderr)
        return 2
    if binding == "redirect":
        out = verify_redirect(d["url"], cert)
    elif binding == "post":
        out = verify_post(d["saml_request"], d["cert_pem"])
    else:
        print("verify_request.py: binding must be redirect or post", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
