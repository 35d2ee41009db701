/*
 * Verifies the XML signatures of a SAML response with libxmlsec1, using
 * public keys the caller keeps parsed between responses.
 *
 * The Rust side (xmldsig.rs) decides what is acceptable before this runs
 * (references, transforms, algorithms) and what to keep afterwards; this
 * file only does what needs libxmlsec1's structures, whose layout depends
 * on how the library was built (XMLSEC_NO_SIZE_T and friends, from
 * pkg-config), so it is compiled against the installed headers.
 */
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <openssl/evp.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/list.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

/* Outcomes; xmldsig.rs names the same values. */
#define GATEHOUSE_DSIG_VERIFIED 0
#define GATEHOUSE_DSIG_INVALID 1
#define GATEHOUSE_DSIG_UNREADABLE 2
#define GATEHOUSE_DSIG_BAD_ID 3
#define GATEHOUSE_DSIG_UNSIGNED 4
#define GATEHOUSE_DSIG_FAILED 5

/* Receives the canonical bytes one verified reference digested. */
typedef void (*gatehouse_dsig_sink)(void *sink, const unsigned char *data, size_t len);

/* The node after `node` in document order, or NULL past the root element. */
static xmlNodePtr next_node(xmlNodePtr node) {
    if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
        return node->children;
    }
    while (node != NULL) {
        if (node->next != NULL) {
            return node->next;
        }
        node = node->parent;
        if (node == NULL || node->type != XML_ELEMENT_NODE) {
            return NULL;
        }
    }
    return NULL;
}

/* Registers every un-namespaced ID attribute, so that "#id" references
 * resolve; refuses values that are not NCNames and values used twice. */
static int register_ids(xmlDocPtr doc, xmlNodePtr root) {
    for (xmlNodePtr node = root; node != NULL; node = next_node(node)) {
        if (node->type != XML_ELEMENT_NODE) {
            continue;
        }
        xmlAttrPtr attr = xmlHasNsProp(node, BAD_CAST "ID", NULL);
        if (attr == NULL || attr->type != XML_ATTRIBUTE_NODE) {
            continue;
        }
        xmlChar *value = xmlNodeListGetString(doc, attr->children, 1);
        int ok = value != NULL && xmlValidateNCName(value, 0) == 0 &&
                 xmlGetID(doc, value) == NULL && xmlAddID(NULL, doc, value, attr) != NULL;
        xmlFree(value);
        if (!ok) {
            return GATEHOUSE_DSIG_BAD_ID;
        }
    }
    return GATEHOUSE_DSIG_VERIFIED;
}

static int is_signature(xmlNodePtr node) {
    return node->type == XML_ELEMENT_NODE &&
           xmlSecCheckNodeName(node, xmlSecNodeSignature, xmlSecDSigNs);
}

/* A libxmlsec1 key holding one more reference to `public_key`. */
static xmlSecKeyPtr key_for(EVP_PKEY *public_key) {
    if (EVP_PKEY_up_ref(public_key) != 1) {
        return NULL;
    }
    xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(public_key);
    if (data == NULL) {
        EVP_PKEY_free(public_key);
        return NULL;
    }
    xmlSecKeyPtr key = xmlSecKeyCreate();
    if (key == NULL) {
        xmlSecKeyDataDestroy(data);
        return NULL;
    }
    if (xmlSecKeySetValue(key, data) < 0) {
        xmlSecKeyDataDestroy(data);
        xmlSecKeyDestroy(key);
        return NULL;
    }
    return key;
}

/* Whether every Reference of the signature points at an element by its ID
 * ("#" and an XML name): libxmlsec1's same-document references also take
 * XPointer expressions, which it would evaluate. */
static int references_by_id(xmlNodePtr signature) {
    xmlNodePtr signed_info = xmlSecFindChild(signature, xmlSecNodeSignedInfo, xmlSecDSigNs);
    if (signed_info == NULL) {
        return 0;
    }
    int found = 0;
    for (xmlNodePtr child = signed_info->children; child != NULL; child = child->next) {
        if (child->type != XML_ELEMENT_NODE ||
            !xmlSecCheckNodeName(child, xmlSecNodeReference, xmlSecDSigNs)) {
            continue;
        }
        xmlChar *uri = xmlGetNoNsProp(child, BAD_CAST "URI");
        int by_id = uri != NULL && uri[0] == '#' && xmlValidateNCName(uri + 1, 0) == 0;
        xmlFree(uri);
        if (!by_id) {
            return 0;
        }
        found = 1;
    }
    return found;
}

/* Only what SAML signatures use; libxmlsec1 refuses other transforms and
 * algorithms before running them. */
static int restrict_context(xmlSecDSigCtxPtr ctx) {
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    xmlSecTransformId c14n[] = {
        xmlSecTransformExclC14NId,
        xmlSecTransformInclC14NId,
        xmlSecTransformInclC14N11Id,
    };
    xmlSecTransformId methods[] = {
        xmlSecTransformRsaSha256Id,   xmlSecTransformRsaSha384Id,
        xmlSecTransformRsaSha512Id,   xmlSecTransformEcdsaSha256Id,
        xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id,
    };
    xmlSecTransformId digests[] = {
        xmlSecTransformSha256Id,
        xmlSecTransformSha384Id,
        xmlSecTransformSha512Id,
    };
    for (size_t i = 0; i < sizeof(c14n) / sizeof(c14n[0]); i++) {
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, c14n[i]) < 0 ||
            xmlSecDSigCtxEnableReferenceTransform(ctx, c14n[i]) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, methods[i]) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        if (xmlSecDSigCtxEnableReferenceTransform(ctx, digests[i]) < 0) {
            return -1;
        }
    }
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0) {
        return -1;
    }
    return 0;
}

/* Verifies one Signature element with one key. On success every reference
 * digested is handed to the sink, in order, and GATEHOUSE_DSIG_VERIFIED is
 * returned; GATEHOUSE_DSIG_INVALID if the signature or any reference fails. */
static int verify_with(xmlNodePtr signature, EVP_PKEY *public_key, gatehouse_dsig_sink sink,
                       void *sink_data) {
    if (!references_by_id(signature)) {
        return GATEHOUSE_DSIG_INVALID;
    }
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    if (ctx == NULL) {
        return GATEHOUSE_DSIG_FAILED;
    }
    ctx->flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES;
    if (restrict_context(ctx) < 0) {
        xmlSecDSigCtxDestroy(ctx);
        return GATEHOUSE_DSIG_FAILED;
    }
    /* A key libxmlsec1 cannot use (an algorithm it lacks) verifies nothing. */
    ctx->signKey = key_for(public_key);
    if (ctx->signKey == NULL) {
        xmlSecDSigCtxDestroy(ctx);
        return GATEHOUSE_DSIG_INVALID;
    }
    int outcome = GATEHOUSE_DSIG_INVALID;
    if (xmlSecDSigCtxVerify(ctx, signature) >= 0 && ctx->status == xmlSecDSigStatusSucceeded) {
        xmlSecSize count = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
        int all = count > 0;
        for (xmlSecSize i = 0; all && i < count; i++) {
            xmlSecDSigReferenceCtxPtr reference =
                (xmlSecDSigReferenceCtxPtr)xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
            all = reference != NULL && reference->status == xmlSecDSigStatusSucceeded &&
                  xmlSecDSigReferenceCtxGetPreDigestBuffer(reference) != NULL;
        }
        if (all) {
            for (xmlSecSize i = 0; i < count; i++) {
                xmlSecDSigReferenceCtxPtr reference =
                    (xmlSecDSigReferenceCtxPtr)xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
                xmlSecBufferPtr buffer = xmlSecDSigReferenceCtxGetPreDigestBuffer(reference);
                sink(sink_data, xmlSecBufferGetData(buffer), (size_t)xmlSecBufferGetSize(buffer));
            }
            outcome = GATEHOUSE_DSIG_VERIFIED;
        }
    }
    xmlSecDSigCtxDestroy(ctx);
    return outcome;
}

/*
 * Parses `xml`, registers its IDs, and verifies every Signature element in
 * it; each must verify with one of the keys. The canonical bytes of every
 * verified reference go to the sink.
 */
int gatehouse_dsig_verify(const char *xml, size_t len, EVP_PKEY *const *keys, size_t key_count,
                          gatehouse_dsig_sink sink, void *sink_data) {
    if (len > (size_t)INT32_MAX) {
        return GATEHOUSE_DSIG_UNREADABLE;
    }
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        return GATEHOUSE_DSIG_UNREADABLE;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int outcome = root == NULL ? GATEHOUSE_DSIG_UNREADABLE : register_ids(doc, root);
    int signatures = 0;
    for (xmlNodePtr node = root; outcome == GATEHOUSE_DSIG_VERIFIED && node != NULL;
         node = next_node(node)) {
        if (!is_signature(node)) {
            continue;
        }
        signatures++;
        outcome = GATEHOUSE_DSIG_INVALID;
        for (size_t k = 0; k < key_count && outcome == GATEHOUSE_DSIG_INVALID; k++) {
            outcome = verify_with(node, keys[k], sink, sink_data);
        }
    }
    if (outcome == GATEHOUSE_DSIG_VERIFIED && signatures == 0) {
        outcome = GATEHOUSE_DSIG_UNSIGNED;
    }
    xmlFreeDoc(doc);
    return outcome;
}
