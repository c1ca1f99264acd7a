/*
 * A stock gSOAP 2.8 client of VBS's EC2 endpoint, as an EC2-era C user would write it: the stubs
 * come from Amazon's own EC2 2010-08-31 WSDL (wsdl2h, soapcpp2, with the wsse plugin imported),
 * nothing of VBS is compiled in. It runs in strict mode (SOAP_XML_STRICT), signs every request with
 * the wsse plugin (BinarySecurityToken, Timestamp, rsa-sha256 over Timestamp and Body), and lets the
 * plugin verify every answer, faults too (soap_wsse_verify_auto: the certificate in the answer's
 * BinarySecurityToken, checked against CA_PEM, must verify the signature).
 *
 *   vbs_gsoap_client URL CA_PEM KEY_PEM CERT_PEM VOLUME_ID|-
 *
 * Sends DescribeVolumes (of VOLUME_ID, or of all the caller's volumes with -) and prints one JSON
 * line: {"ok":true,...} with the answer, or {"ok":false,...} with the fault gSOAP read (faultcode,
 * faultstring, the literal XML of detail's one element); both with how many signed Body and
 * Timestamp elements the plugin verified and the CN of the certificate that signed the answer.
 * Exit status 0 when it printed a line, 1 when it could not start.
 */
#include "soapH.h"
#include "AmazonEC2Binding.nsmap"
#include "wsseapi.h"
#include <openssl/pem.h>
#include <openssl/x509.h>

#define WSU_NS "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

static void field(const char *name, const char *value) {
  printf(",");
  json_string(name);
  printf(":");
  json_string(value);
}

/* The CN of the certificate the answer's KeyInfo points to, "" when there is none. */
static void signer_cn(struct soap *soap, char *out, size_t size) {
  out[0] = '\0';
  X509 *cert = soap_wsse_get_KeyInfo_SecurityTokenReferenceX509(soap);
  if (!cert) return;
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)size);
  X509_free(cert);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: vbs_gsoap_client URL CA_PEM KEY_PEM CERT_PEM VOLUME_ID|-\n");
    return 1;
  }
  const char *url = argv[1], *ca = argv[2], *volume = argv[5];
  FILE *fd = fopen(argv[3], "r");
  EVP_PKEY *key = fd ? PEM_read_PrivateKey(fd, NULL, NULL, NULL) : NULL;
  if (fd) fclose(fd);
  fd = fopen(argv[4], "r");
  X509 *cert = fd ? PEM_read_X509(fd, NULL, NULL, NULL) : NULL;
  if (fd) fclose(fd);
  if (!key || !cert) {
    fprintf(stderr, "cannot read the key or the certificate\n");
    return 1;
  }

  struct soap *soap = soap_new1(SOAP_XML_STRICT | SOAP_XML_CANONICAL | SOAP_C_UTFSTRING);
  soap_register_plugin(soap, soap_wsse);
  soap->cafile = ca; /* the CA that must have issued the answer's signing certificate */
  if (soap_ssl_client_context(soap, SOAP_SSL_DEFAULT, NULL, NULL, ca, NULL, NULL)
      || soap_wsse_add_BinarySecurityTokenX509(soap, "X509Token", cert)
      || soap_wsse_add_KeyInfo_SecurityTokenReferenceX509(soap, "#X509Token")
      || soap_wsse_add_Timestamp(soap, "Time", 300)
      || soap_wsse_sign_body(soap, SOAP_SMD_SIGN_RSA_SHA256, key, 0)
      || soap_wsse_sign_only(soap, "Time Body")
      || soap_wsse_verify_auto(soap, SOAP_SMD_NONE, NULL, 0)) {
    soap_print_fault(soap, stderr);
    return 1;
  }

  struct ns1__DescribeVolumesSetItemType item = {0};
  struct ns1__DescribeVolumesSetType set = {0};
  struct ns1__DescribeVolumesType request = {0};
  struct ns1__DescribeVolumesResponseType answer = {0};
  request.volumeSet = &set;
  if (strcmp(volume, "-") != 0) {
    item.volumeId = (char *)volume;
    set.__sizeitem = 1;
    set.item = &item;
  }
  int rc = soap_call___ns1__DescribeVolumes(soap, url, "DescribeVolumes", &request, &answer);

  char cn[256];
  signer_cn(soap, cn, sizeof cn);
  int body = (int)soap_wsse_verify_element(soap, namespaces[0].ns, "Body");
  int timestamp = (int)soap_wsse_verify_element(soap, WSU_NS, "Timestamp");
  printf("{\"ok\":%s,\"soapError\":%d,\"signedBody\":%d,\"signedTimestamp\":%d", rc == SOAP_OK ? "true" : "false", rc,
         body, timestamp);
  field("signerCn", cn);
  if (rc == SOAP_OK) {
    field("requestId", answer.requestId);
    printf(",\"volumes\":[");
    for (int i = 0; answer.volumeSet && i < answer.volumeSet->__sizeitem; i++) {
      if (i) printf(",");
      json_string(answer.volumeSet->item[i].volumeId);
    }
    printf("]");
  } else {
    const char **code = soap_faultcode(soap);
    const char **string = soap_faultstring(soap);
    const char **detail = soap_faultdetail(soap);
    field("faultcode", code ? *code : NULL);
    field("faultstring", string ? *string : NULL);
    field("detail", detail ? *detail : NULL);
  }
  printf("}\n");
  soap_destroy(soap);
  soap_end(soap);
  soap_free(soap);
  return 0;
}
