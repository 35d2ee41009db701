#!/usr/bin/env python3
"""Independent SAML 2.0 IdP response builder/signer for SP integration tests.

Reads ONE JSON object on stdin, prints ONE JSON object on stdout:

    {"saml_response": "<base64 of the XML>", "xml": "<the XML text>"}

On bad input it prints a message on stderr and exits with status 2
(any other failure: status 1 with a traceback).

It deliberately shares no code with the Rust SP: documents are built with
lxml and signed with signxml (enveloped XML-DSig, exclusive c14n).
See README.md next to this file for the input fields.

Attack variants (input field "attack") each produce a document a correct SP
must reject.  All of them start from the properly signed document and edit it
afterwards, except "comment_in_name_id" and "processing_instruction", which
change the NameID before signing (the signature over them stays valid), and
"other_key", which signs with a throw-away key.
"""

import base64
import copy
import json
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
)

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"samlp": NS_SAMLP, "saml": NS_SAML}


def samlp(tag):
    return "{%s}%s" % (NS_SAMLP, tag)


def saml(tag):
    return "{%s}%s" % (NS_SAML, tag)


def ds(tag):
    return "{%s}%s" % (NS_DS, tag)


STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
AC_PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

ALGORITHMS = {
    "rsa-sha256": (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256),
    "rsa-sha1": (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
    "rsa-sha512": (SignatureMethod.RSA_SHA512, DigestAlgorithm.SHA512),
}
SIGN_MODES = ("assertion", "response", "both", "none")
XSW_RESPONSE = ("xsw1", "xsw2")
XSW_ASSERTION = ("xsw3", "xsw4", "xsw5", "xsw6", "xsw7", "xsw8")
ATTACKS = XSW_RESPONSE + XSW_ASSERTION + (
    "extra_assertion",
    "strip_signature",
    "edit_after_signing",
    "comment_in_name_id",
    "doctype",
    "external_entity",
    "truncate",
    "other_key",
    "processing_instruction",
)

STRING_FIELDS = {
    "key_pem", "cert_pem", "issuer", "destination", "audience", "in_response_to",
    "name_id", "name_id_format", "session_index", "issue_instant", "authn_instant", "not_before",
    "not_on_or_after", "response_id", "assertion_id", "status", "status_message",
    "sub_status", "sign", "algorithm", "attack", "attacker_name_id",
    "name_id_suffix", "xxe_target", "encrypt_cert_pem", "encryption",
    "key_transport", "key_placement",
}
BOOL_FIELDS = {"omit_audience", "omit_destination", "omit_recipient", "line_breaks", "encrypt_tamper"}
KNOWN_FIELDS = STRING_FIELDS | BOOL_FIELDS | {"attributes"}

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
# xs:ID is an NCName; keep to the ASCII subset.
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

EVIL_RESPONSE_ID = "_evil_response_ID"  # same values as SAML Raider
EVIL_ASSERTION_ID = "_evil_assertion_ID"


class InputError(Exception):
    """Bad input: reported on stderr, exit status 2."""


class SHA1CapableSigner(XMLSigner):
    """signxml refuses SHA-1 at construction time (XMLSigner.check_deprecated_methods
    raises InvalidInput).  There is no constructor flag: overriding that hook is
    the way to produce rsa-sha1/sha1 signatures.  We only need them to check that
    the SP refuses SHA-1."""

    def check_deprecated_methods(self):
        pass


# ---------------------------------------------------------------------------
# input handling


def new_id():
    return "_" + uuid.uuid4().hex


def now_utc():
    return datetime.now(timezone.utc).replace(microsecond=0)


def fmt_time(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_input(raw):
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError("stdin is not valid JSON: %s" % e)
    if not isinstance(data, dict):
        raise InputError("stdin must hold one JSON object")

    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        raise InputError("unknown field(s): %s" % ", ".join(unknown))
    # JSON null means "absent" everywhere.
    data = {k: v for k, v in data.items() if v is not None}

    for k in STRING_FIELDS & set(data):
        if not isinstance(data[k], str):
            raise InputError("field %r must be a string" % k)
    for k in BOOL_FIELDS & set(data):
        if not isinstance(data[k], bool):
            raise InputError("field %r must be a boolean" % k)

    attrs = data.get("attributes", {})
    if not isinstance(attrs, dict):
        raise InputError("field 'attributes' must be an object of name -> list of strings")
    for name, values in attrs.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError("attribute %r must be a list of strings" % name)
    data["attributes"] = attrs

    for k in ("issuer", "destination", "audience", "name_id"):
        if not data.get(k):
            raise InputError("field %r is required" % k)

    data.setdefault("sign", "assertion")
    if data["sign"] not in SIGN_MODES:
        raise InputError("sign must be one of %s" % ", ".join(SIGN_MODES))
    data.setdefault("algorithm", "rsa-sha256")
    if data["algorithm"] not in ALGORITHMS:
        raise InputError("algorithm must be one of %s" % ", ".join(ALGORITHMS))

    attack = data.get("attack")
    if attack is not None:
        if attack not in ATTACKS:
            raise InputError("attack must be one of %s" % ", ".join(ATTACKS))
        if data["sign"] == "none":
            raise InputError("attack %r needs a signed document (sign must not be 'none')" % attack)
        if attack in XSW_RESPONSE and data["sign"] != "response":
            raise InputError("attack %r wraps the signed Response: it requires sign='response'" % attack)
        if attack in XSW_ASSERTION and data["sign"] != "assertion":
            raise InputError("attack %r wraps the signed Assertion: it requires sign='assertion'" % attack)
    xxe_target = data.setdefault("xxe_target", "attribute")
    if xxe_target not in ("attribute", "text"):
        raise InputError("xxe_target must be 'attribute' or 'text'")

    data.setdefault("attacker_name_id", "evil@attacker.example")
    data.setdefault("name_id_suffix", ".evil.example")
    data.setdefault("name_id_format", NAMEID_EMAIL)
    data.setdefault("status", STATUS_SUCCESS)
    data.setdefault("session_index", new_id())
    for k in ("response_id", "assertion_id"):
        data.setdefault(k, new_id())
        if not ID_RE.match(data[k]):
            raise InputError("%s %r is not a valid xs:ID (must start with a letter or '_')" % (k, data[k]))
    if data["response_id"] == data["assertion_id"]:
        raise InputError("response_id and assertion_id must differ")

    now = now_utc()
    data.setdefault("issue_instant", fmt_time(now))
    data.setdefault("authn_instant", data["issue_instant"])
    data.setdefault("not_before", data["issue_instant"])
    data.setdefault("not_on_or_after", fmt_time(now + timedelta(minutes=5)))
    for k in ("issue_instant", "authn_instant", "not_before", "not_on_or_after"):
        if not TIME_RE.match(data[k]):
            raise InputError("%s %r is not an RFC 3339 UTC time like 2026-11-23T01:00:00Z" % (k, data[k]))
        try:
            datetime.fromisoformat(data[k].replace("Z", "+00:00"))
        except ValueError as e:
            raise InputError("%s %r: %s" % (k, data[k], e))

    for k in ("omit_audience", "omit_destination", "omit_recipient", "line_breaks", "encrypt_tamper"):
        data.setdefault(k, False)

    if data.get("encrypt_cert_pem"):
        if data.get("attack"):
            raise InputError("attacks and encryption do not combine")
        data.setdefault("encryption", "aes256-gcm")
        if data["encryption"] not in CONTENT_ALGORITHMS:
            raise InputError("encryption must be one of %s" % ", ".join(CONTENT_ALGORITHMS))
        data.setdefault("key_transport", "rsa-oaep-mgf1p")
        if data["key_transport"] not in KEY_TRANSPORTS:
            raise InputError("key_transport must be one of %s" % ", ".join(KEY_TRANSPORTS))
        data.setdefault("key_placement", "key_info")
        if data["key_placement"] not in ("key_info", "sibling"):
            raise InputError("key_placement must be 'key_info' or 'sibling'")

    needs_key = data["sign"] != "none" and attack != "other_key"
    if needs_key:
        for k in ("key_pem", "cert_pem"):
            if not data.get(k):
                raise InputError("field %r is required when signing" % k)
        data["_key"], data["_cert"] = load_key_and_cert(data["key_pem"], data["cert_pem"])
    elif data.get("cert_pem"):
        try:
            data["_cert"] = x509.load_pem_x509_certificate(data["cert_pem"].encode())
        except ValueError as e:
            raise InputError("cert_pem: %s" % e)
    return data


def load_key_and_cert(key_pem, cert_pem):
    try:
        # load_pem_private_key takes both PKCS#8 (BEGIN PRIVATE KEY) and
        # PKCS#1 (BEGIN RSA PRIVATE KEY).
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as e:
        raise InputError("key_pem: cannot load an unencrypted PEM private key: %s" % e)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InputError("key_pem: only RSA keys are supported")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as e:
        raise InputError("cert_pem: %s" % e)
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise InputError("cert_pem does not match key_pem (use attack 'other_key' for a foreign key)")
    return key, cert


# ---------------------------------------------------------------------------
# document construction


def build_response(d):
    """Build the unsigned samlp:Response (lxml element).  Signature placeholders
    are inserted later, right after the Issuer."""
    attack = d.get("attack")
    root = etree.Element(samlp("Response"), nsmap=NSMAP)
    root.set("ID", d["response_id"])
    root.set("Version", "2.0")
    root.set("IssueInstant", d["issue_instant"])
    if not d["omit_destination"]:
        root.set("Destination", d["destination"])
    if d.get("in_response_to") is not None:
        root.set("InResponseTo", d["in_response_to"])
    etree.SubElement(root, saml("Issuer")).text = d["issuer"]

    status = etree.SubElement(root, samlp("Status"))
    code = etree.SubElement(status, samlp("StatusCode"), Value=d["status"])
    if d.get("sub_status") is not None:
        etree.SubElement(code, samlp("StatusCode"), Value=d["sub_status"])
    if d.get("status_message") is not None:
        etree.SubElement(status, samlp("StatusMessage")).text = d["status_message"]

    a = etree.SubElement(root, saml("Assertion"))
    a.set("ID", d["assertion_id"])
    a.set("IssueInstant", d["issue_instant"])
    a.set("Version", "2.0")
    etree.SubElement(a, saml("Issuer")).text = d["issuer"]

    subject = etree.SubElement(a, saml("Subject"))
    nid = etree.SubElement(subject, saml("NameID"), Format=d["name_id_format"])
    nid.text = d["name_id"]
    if attack == "comment_in_name_id":
        # "alice@acme.test<!---->.evil.example": exclusive c14n (without
        # comments) signs "alice@acme.test.evil.example"; an SP reading only
        # the first text node sees "alice@acme.test".
        c = etree.Comment("")
        c.tail = d["name_id_suffix"]
        nid.append(c)
    elif attack == "processing_instruction":
        # "alice@acme.test<?evil pi?>.evil.example" (PIs are kept by c14n, so
        # the PI itself is signed as well).
        pi = etree.ProcessingInstruction("evil", "pi")
        pi.tail = d["name_id_suffix"]
        nid.append(pi)
    sc = etree.SubElement(subject, saml("SubjectConfirmation"), Method=CM_BEARER)
    scd = etree.SubElement(sc, saml("SubjectConfirmationData"))
    scd.set("NotOnOrAfter", d["not_on_or_after"])
    if not d["omit_recipient"]:
        scd.set("Recipient", d["destination"])
    if d.get("in_response_to") is not None:
        scd.set("InResponseTo", d["in_response_to"])

    cond = etree.SubElement(a, saml("Conditions"))
    cond.set("NotBefore", d["not_before"])
    cond.set("NotOnOrAfter", d["not_on_or_after"])
    if not d["omit_audience"]:
        ar = etree.SubElement(cond, saml("AudienceRestriction"))
        etree.SubElement(ar, saml("Audience")).text = d["audience"]

    authn = etree.SubElement(a, saml("AuthnStatement"))
    authn.set("AuthnInstant", d["authn_instant"])
    authn.set("SessionIndex", d["session_index"])
    ac = etree.SubElement(authn, saml("AuthnContext"))
    etree.SubElement(ac, saml("AuthnContextClassRef")).text = AC_PPT

    if d["attributes"]:
        st = etree.SubElement(a, saml("AttributeStatement"))
        for name, values in d["attributes"].items():
            at = etree.SubElement(st, saml("Attribute"), Name=name, NameFormat=ATTRNAME_BASIC)
            for v in values:
                av = etree.SubElement(
                    at, saml("AttributeValue"), nsmap={"xs": NS_XS, "xsi": NS_XSI}
                )
                av.set("{%s}type" % NS_XSI, "xs:string")
                av.text = v
    return root


# ---------------------------------------------------------------------------
# signing


def insert_after_issuer(parent, el):
    issuer = parent.find(saml("Issuer"))
    issuer.addnext(el)


def sign_element(root, target_id, container, key, cert_pem, algorithm):
    """Enveloped signature over the element with ID target_id; the ds:Signature
    is placed right after `container`'s saml:Issuer (container is the signed
    element itself).  Returns the new root (signxml works on a copy)."""
    placeholder = etree.Element(ds("Signature"), nsmap={"ds": NS_DS})
    placeholder.set("Id", "placeholder")
    insert_after_issuer(container, placeholder)
    sig_alg, digest_alg = ALGORITHMS[algorithm]
    signer = SHA1CapableSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=sig_alg,
        digest_algorithm=digest_alg,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(root, key=key, cert=cert_pem, reference_uri="#" + target_id)


def find_assertion(root):
    return root.find(saml("Assertion"))


def sign_document(root, d, key, cert_pem):
    mode = d["sign"]
    if mode in ("assertion", "both"):
        root = sign_element(root, d["assertion_id"], find_assertion(root), key, cert_pem, d["algorithm"])
    if mode in ("response", "both"):
        root = sign_element(root, d["response_id"], root, key, cert_pem, d["algorithm"])
    return root


def throwaway_key_and_cert(template_cert):
    """A fresh RSA key and a self-signed certificate for it.  The subject (and
    issuer) copy the real IdP certificate's subject when known, so only the key
    differs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if template_cert is not None:
        name = template_cert.subject
    else:
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test-idp")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


# ---------------------------------------------------------------------------
# post-signing attacks


def remove(el):
    """Detach el, keeping its tail text in the document."""
    parent = el.getparent()
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def first_signature(el):
    """First ds:Signature in document order within el (SAML Raider uses
    getElementsByTagNameNS("*", "Signature").item(0))."""
    return next(el.iter(ds("Signature")), None)


def direct_signature(el):
    return el.find(ds("Signature"))


def set_name_id(el, value):
    """Replace the text of every saml:NameID within el (inclusive)."""
    for nid in el.iter(saml("NameID")):
        for child in list(nid):
            nid.remove(child)
        nid.text = value


def apply_xsw(root, attack, evil):
    # The numbering and the element moves follow SAML Raider's XSWHelpers
    # (CompassSecurity/SAMLRaider, after Somorovsky et al., "On Breaking SAML:
    # Be Whoever You Want to Be").  "evil" = copy carrying the attacker NameID.
    # Differences: the helper elements of XSW7/XSW8 are created in their proper
    # namespaces (samlp:Extensions, ds:Object); SAML Raider creates them
    # without a namespace.
    if attack in ("xsw1", "xsw2"):
        # Signed Response (signature is the Response's direct child).
        original = copy.deepcopy(root)
        remove(direct_signature(original))
        set_name_id(root, evil)
        root.set("ID", EVIL_RESPONSE_ID)
        sig = direct_signature(root)
        if attack == "xsw1":
            # XSW1: evil Response (new ID) at the top; an unsigned copy of the
            # original Response is appended INSIDE the Response's ds:Signature
            # (after KeyInfo), where Reference URI="#<response_id>" finds it.
            sig.append(original)
        else:
            # XSW2: same, but the copy of the original Response is inserted as
            # a sibling right BEFORE the ds:Signature (detached-style).
            sig.addprevious(original)
        return root

    assertion = find_assertion(root)
    if attack == "xsw3":
        # XSW3: evil copy of the Assertion (new ID, no Signature) inserted as
        # the Response child right BEFORE the original signed Assertion.
        ev = copy.deepcopy(assertion)
        set_name_id(ev, evil)
        ev.set("ID", EVIL_ASSERTION_ID)
        remove(direct_signature(ev))
        assertion.addprevious(ev)
    elif attack == "xsw4":
        # XSW4: evil copy (new ID, no Signature) appended to the Response and
        # the original signed Assertion moved INSIDE it as its last child.
        ev = copy.deepcopy(assertion)
        set_name_id(ev, evil)
        ev.set("ID", EVIL_ASSERTION_ID)
        remove(direct_signature(ev))
        root.append(ev)
        ev.append(assertion)  # moves it
    elif attack == "xsw5":
        # XSW5: the Assertion in place becomes the evil one (new ID, keeps the
        # original ds:Signature); an unsigned copy of the original Assertion is
        # appended at the end of the Response.
        orig = copy.deepcopy(assertion)
        remove(direct_signature(orig))
        set_name_id(assertion, evil)
        assertion.set("ID", EVIL_ASSERTION_ID)
        root.append(orig)
    elif attack == "xsw6":
        # XSW6: the Assertion in place becomes the evil one (new ID, keeps the
        # original ds:Signature); an unsigned copy of the original Assertion is
        # appended INSIDE that ds:Signature (after KeyInfo).
        sig = direct_signature(assertion)
        orig = copy.deepcopy(assertion)
        remove(direct_signature(orig))
        set_name_id(assertion, evil)
        assertion.set("ID", EVIL_ASSERTION_ID)
        sig.append(orig)
    elif attack == "xsw7":
        # XSW7: a samlp:Extensions element inserted before the original signed
        # Assertion (SAML Raider's position, after Status: not schema-valid),
        # holding an evil copy of the Assertion WITHOUT Signature and with the
        # SAME ID (duplicate ID; the evil copy comes first in document order).
        ext = etree.Element(samlp("Extensions"))
        assertion.addprevious(ext)
        ev = copy.deepcopy(assertion)
        set_name_id(ev, evil)
        remove(direct_signature(ev))
        ext.append(ev)
    elif attack == "xsw8":
        # XSW8: the Assertion in place becomes the evil one (ID unchanged,
        # keeps the original ds:Signature); a ds:Object appended to that
        # Signature holds an unsigned copy of the original Assertion (same ID:
        # duplicate ID).
        sig = direct_signature(assertion)
        orig = copy.deepcopy(assertion)
        remove(direct_signature(orig))
        set_name_id(assertion, evil)
        obj = etree.SubElement(sig, ds("Object"))
        obj.append(orig)
    return root


DOCTYPE_LAUGHS = (
    "<!DOCTYPE samlp:Response [\n"
    '<!ENTITY lol "lol">\n'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
    "]>\n"
)
DOCTYPE_XXE = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
XXE_MARKER = "XXEMARKER0d3f7a"


def serialize(root):
    return etree.tostring(root, encoding="unicode")


def apply_attack(root, d):
    """Returns the final XML text."""
    attack = d.get("attack")
    evil = d["attacker_name_id"]
    if attack in XSW_RESPONSE + XSW_ASSERTION:
        return serialize(apply_xsw(root, attack, evil))
    if attack == "extra_assertion":
        # Unsigned edited copy (fresh ID) appended after the signed Assertion.
        ev = copy.deepcopy(find_assertion(root))
        sig = direct_signature(ev)
        if sig is not None:
            remove(sig)
        ev.set("ID", new_id())
        set_name_id(ev, evil)
        root.append(ev)
        return serialize(root)
    if attack == "strip_signature":
        for sig in list(root.iter(ds("Signature"))):
            remove(sig)
        set_name_id(root, evil)
        return serialize(root)
    if attack == "edit_after_signing":
        set_name_id(root, evil)
        return serialize(root)
    if attack == "doctype":
        # Declared, not referenced: the signed document is otherwise intact.
        return DOCTYPE_LAUGHS + serialize(root)
    if attack == "external_entity":
        # &x; goes into ds:KeyInfo of the first signature, which no Reference
        # covers: as an Id attribute (default; note XML 1.0 forbids external
        # entity references in attribute values, so a conforming parser
        # refuses the document at that point) or, with xxe_target="text", as
        # the text of an added ds:KeyName.
        key_info = first_signature(root).find(ds("KeyInfo"))
        if d["xxe_target"] == "attribute":
            key_info.set("Id", XXE_MARKER)
        else:
            kn = etree.Element(ds("KeyName"))
            kn.text = XXE_MARKER
            key_info.insert(0, kn)
        xml = serialize(root)
        assert xml.count(XXE_MARKER) == 1
        return DOCTYPE_XXE + xml.replace(XXE_MARKER, "&x;")
    if attack == "truncate":
        xml = serialize(root)
        return xml[: len(xml) // 2]
    # None, comment_in_name_id, processing_instruction, other_key: the
    # document is already final.
    return serialize(root)


# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# encryption: done by the xmlsec1 command line (XML Encryption 1.0 as
# libxmlsec1 implements it), never by this script.

NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
CONTENT_ALGORITHMS = {
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
    "tripledes-cbc": ("http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "des-192"),
}
KEY_TRANSPORTS = {
    "rsa-oaep-mgf1p": '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p">'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>',
    "rsa-1_5": '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/>',
}


def xenc(tag):
    return "{%s}%s" % (NS_XENC, tag)


def encrypt_assertion(root, d):
    """Replaces the saml:Assertion with saml:EncryptedAssertion, encrypted
    to encrypt_cert_pem by `xmlsec1 encrypt`."""
    import os
    import subprocess
    import tempfile

    content_uri, session_key = CONTENT_ALGORITHMS[d["encryption"]]
    template = (
        '<xenc:EncryptedData xmlns:xenc="%s" Type="http://www.w3.org/2001/04/xmlenc#Element">'
        '<xenc:EncryptionMethod Algorithm="%s"/>'
        '<ds:KeyInfo xmlns:ds="%s"><xenc:EncryptedKey>%s'
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
    ) % (NS_XENC, content_uri, NS_DS, KEY_TRANSPORTS[d["key_transport"]])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: os.path.join(tmp, name) for name in ("doc.xml", "tmpl.xml", "cert.pem", "out.xml")}
        with open(paths["doc.xml"], "w") as f:
            f.write(serialize(root))
        with open(paths["tmpl.xml"], "w") as f:
            f.write(template)
        with open(paths["cert.pem"], "w") as f:
            f.write(d["encrypt_cert_pem"])
        done = subprocess.run(
            ["xmlsec1", "encrypt", "--pubkey-cert-pem", paths["cert.pem"],
             "--session-key", session_key, "--xml-data", paths["doc.xml"],
             "--node-xpath", "/*/*[local-name()='Assertion']",
             "--output", paths["out.xml"], paths["tmpl.xml"]],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError("xmlsec1 encrypt failed: %s" % done.stderr)
        with open(paths["out.xml"], "rb") as f:
            root = etree.fromstring(f.read())
    data = root.find(xenc("EncryptedData"))
    wrapper = etree.Element(saml("EncryptedAssertion"))
    data.addprevious(wrapper)
    wrapper.append(data)
    if d["key_placement"] == "sibling":
        key_info = data.find(ds("KeyInfo"))
        key = key_info.find(xenc("EncryptedKey"))
        key.set("Id", "_key1")
        wrapper.append(key)
        retrieval = etree.SubElement(key_info, ds("RetrievalMethod"))
        retrieval.set("URI", "#_key1")
        retrieval.set("Type", "http://www.w3.org/2001/04/xmlenc#EncryptedKey")
    return root


def tamper(root):
    """Flips one bit of the encrypted content, as on the way to the SP."""
    data = root.find(saml("EncryptedAssertion")).find(xenc("EncryptedData"))
    value = data.find(xenc("CipherData")).find(xenc("CipherValue"))
    raw = bytearray(base64.b64decode("".join(value.text.split())))
    raw[len(raw) // 2] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode("ascii")


def run(d):
    root = build_response(d)
    if d.get("encrypt_cert_pem"):
        # Sign the assertion, encrypt it, then sign the response over the
        # ciphertext: the order identity providers use.
        key, cert_pem, mode = d.get("_key"), d.get("cert_pem"), d["sign"]
        if mode in ("assertion", "both"):
            root = sign_element(root, d["assertion_id"], find_assertion(root), key, cert_pem, d["algorithm"])
        root = encrypt_assertion(root, d)
        if mode in ("response", "both"):
            root = sign_element(root, d["response_id"], root, key, cert_pem, d["algorithm"])
        if d["encrypt_tamper"]:
            tamper(root)
    elif d["sign"] != "none":
        if d.get("attack") == "other_key":
            key, cert_pem = throwaway_key_and_cert(d.get("_cert"))
        else:
            key, cert_pem = d["_key"], d["cert_pem"]
        root = sign_document(root, d, key, cert_pem)
    xml = apply_attack(root, d)
    b64 = base64.b64encode(xml.encode("utf-8")).decode("ascii")
    if d["line_breaks"]:
        b64 = "\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    return {"saml_response": b64, "xml": xml}


def main():
    try:
        d = parse_input(sys.stdin.read())
    except InputError as e:
        print("idp.py: bad input: %s" % e, file=sys.stderr)
        return 2
    out = run(d)
    sys.stdout.write(json.dumps(out))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
