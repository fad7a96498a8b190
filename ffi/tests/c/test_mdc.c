/*
 * The C API, driven from C: build a scanner, scan EICAR nested in zips from
 * memory and from a file, read the verdict, cancel from a second thread,
 * feed NULL and garbage to every function, destroy everything; sanitize
 * an RTF in one call.
 *
 * Usage: test_mdc NESTED_ZIP SLOW_GZ BAD_RULES
 * Run by ffi/tests/c_api.rs (under valgrind in CI). Exit status 0 = pass.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdc.h"

static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",    \
                    __FILE__, __LINE__, #cond, mdc_last_error());            \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#define EXPECT(call, code) CHECK((call) == (code))

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static atomic_int progress_calls;
static atomic_ullong progress_objects;

static void on_progress(void *user_data, uint64_t objects, uint64_t bytes) {
    (void)bytes;
    CHECK(user_data == (void *)&progress_calls);
    atomic_fetch_add(&progress_calls, 1);
    atomic_store(&progress_objects, objects);
}

/* A sanitized copy in one call: an RTF loses its OLE object and DDE field,
 * plain text has no sanitizer, a damaged .docx can not be rebuilt. */
static void check_sanitize(void) {
    const char *rtf =
        "{\\rtf1 Hello {\\object\\objemb{\\*\\objdata 0105000002000000}"
        "{\\result {\\pict 00}}}{\\field{\\*\\fldinst DDEAUTO cmd}{\\fldrslt shown}}}";
    MDC_BUFFER copy = {0}, details = {0};
    EXPECT(mdc_sanitize_buffer((const uint8_t *)rtf, strlen(rtf), "letter.rtf", 0, &copy,
                               &details),
           MDC_OK);
    CHECK(copy.data != NULL && copy.len > 0);
    CHECK(copy.data && strstr((const char *)copy.data, "objdata") == NULL);
    CHECK(copy.data && strstr((const char *)copy.data, "DDEAUTO") == NULL);
    CHECK(copy.data && strstr((const char *)copy.data, "Hello") != NULL);
    CHECK(details.data && strstr((const char *)details.data, "\"actions_ran\":\"Sanitized\"") != NULL);
    CHECK(details.data && strstr((const char *)details.data, "letter.rtf") != NULL);
    EXPECT(mdc_buffer_free(&copy), MDC_OK);
    EXPECT(mdc_buffer_free(&details), MDC_OK);
    CHECK(copy.data == NULL && details.data == NULL);
    /* Details are optional. */
    EXPECT(mdc_sanitize_buffer((const uint8_t *)rtf, strlen(rtf), NULL, 0, &copy, NULL),
           MDC_OK);
    EXPECT(mdc_buffer_free(&copy), MDC_OK);

    const char *text = "just words\n";
    EXPECT(mdc_sanitize_buffer((const uint8_t *)text, strlen(text), "notes.txt", 0, &copy,
                               &details),
           MDC_UNSUPPORTED);
    CHECK(copy.data == NULL && details.data == NULL);
    CHECK(strlen(mdc_last_error()) > 0);
    EXPECT(mdc_sanitize_buffer((const uint8_t *)text, strlen(text), "report.docx", 0, &copy,
                               &details),
           MDC_SANITIZE_FAILED);
    CHECK(copy.data == NULL);
    EXPECT(mdc_sanitize_buffer(NULL, 5, "x.rtf", 0, &copy, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_sanitize_buffer((const uint8_t *)rtf, strlen(rtf), "x.rtf", 0, NULL, NULL),
           MDC_INVALID_ARGUMENT);
    EXPECT(mdc_sanitize_buffer((const uint8_t *)rtf, strlen(rtf), "x.rtf", 0x80, &copy, NULL),
           MDC_INVALID_ARGUMENT);
}

/* The verdict of a report of EICAR inside nested.zip. */
static void check_eicar_report(const mdc_report *r) {
    uint32_t code = 99;
    EXPECT(mdc_report_code(r, &code), MDC_OK);
    CHECK(code == 1);
    const char *text = NULL;
    EXPECT(mdc_report_code_string(r, &text), MDC_OK);
    CHECK(text && strcmp(text, "Infected") == 0);
    bool blocked = false;
    EXPECT(mdc_report_blocked(r, &blocked), MDC_OK);
    CHECK(blocked);
    size_t nodes = 0, threats = 0;
    EXPECT(mdc_report_node_count(r, &nodes), MDC_OK);
    CHECK(nodes == 5); /* outer, inner.zip, deep.zip, eicar.com, readme.txt */
    EXPECT(mdc_report_threat_count(r, &threats), MDC_OK);
    CHECK(threats == 1);
    MDC_THREAT t = {0};
    EXPECT(mdc_report_threat(r, 0, &t), MDC_OK);
    CHECK(t.name && strcmp(t.name, "EICAR_Test_File") == 0);
    CHECK(t.object && strcmp(t.object, "nested.zip/inner.zip/deep.zip/eicar.com") == 0);
    CHECK(t.engine && strlen(t.engine) > 0);
    EXPECT(mdc_report_threat(r, 1, &t), MDC_INVALID_ARGUMENT);
    MDC_BUFFER json = {0};
    EXPECT(mdc_report_json(r, &json), MDC_OK);
    CHECK(json.data && json.len > 0 && json.data[json.len] == 0);
    CHECK(json.data && strstr((const char *)json.data, "\"threat_found\":\"EICAR_Test_File\"") != NULL);
    EXPECT(mdc_buffer_free(&json), MDC_OK);
    CHECK(json.data == NULL && json.len == 0);
}

struct cancel_job {
    const mdc_scanner *scanner;
    const char *path;
    const mdc_cancel *cancel;
    uint32_t code;
    MDC_RESULT rc;
};

static void *scan_slow(void *arg) {
    struct cancel_job *job = arg;
    MDC_SCAN_OPTIONS opts = {0};
    opts.cancel = job->cancel;
    mdc_report *r = NULL;
    job->rc = mdc_scanner_scan_file(job->scanner, job->path, &opts, &r);
    if (job->rc == MDC_OK) mdc_report_code(r, &job->code);
    mdc_report_destroy(r);
    return NULL;
}

static void null_and_garbage(const mdc_scanner *scanner, const mdc_config *config) {
    /* A pointer that was never a handle, and handles of the wrong kind. */
    uint64_t junk[16];
    memset(junk, 0xA5, sizeof junk);
    void *garbage = junk;
    mdc_report *r = NULL;
    uint32_t code;
    size_t n;
    bool b;
    const char *s;
    MDC_THREAT t;
    MDC_BUFFER buf = {0};
    MDC_LIMITS limits;
    unsigned char data[4] = "abc";

    EXPECT(mdc_config_create(NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_rules(NULL, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_rules(garbage, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_rules((mdc_config *)scanner, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_rules((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_rules((mdc_config *)config, "\xff\xfe"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_hash_list(NULL, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_hash_list(garbage, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_hash_list((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_database(NULL, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_database(garbage, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_database((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_allow_list(NULL, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_allow_list(garbage, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_allow_list((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_password(NULL, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_password(garbage, "x"), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_add_password((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_default_rules(NULL, true), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_default_rules(garbage, true), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_threads(NULL, 1), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_threads(garbage, 1), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_limits_default(NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_limits_default(&limits), MDC_OK);
    EXPECT(mdc_config_set_limits(NULL, &limits), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_limits(garbage, &limits), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_set_limits((mdc_config *)config, NULL), MDC_INVALID_ARGUMENT);
    limits.timeout_ms = 0;
    EXPECT(mdc_config_set_limits((mdc_config *)config, &limits), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_destroy(garbage), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_config_destroy((mdc_config *)scanner), MDC_INVALID_ARGUMENT);

    mdc_scanner *sc = NULL;
    EXPECT(mdc_scanner_create(NULL, &sc), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_create(garbage, &sc), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_create(config, NULL), MDC_INVALID_ARGUMENT);
    CHECK(sc == NULL);
    EXPECT(mdc_scanner_scan_buffer(NULL, data, 3, NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_buffer(garbage, data, 3, NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_buffer((const mdc_scanner *)config, data, 3, NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_buffer(scanner, NULL, 3, NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_buffer(scanner, data, 3, NULL, NULL), MDC_INVALID_ARGUMENT);
    MDC_SCAN_OPTIONS bad = {0};
    bad.cancel = garbage;
    EXPECT(mdc_scanner_scan_buffer(scanner, data, 3, &bad, &r), MDC_INVALID_ARGUMENT);
    MDC_SCAN_OPTIONS bad2 = {0};
    bad2.password_count = 2; /* passwords NULL */
    EXPECT(mdc_scanner_scan_buffer(scanner, data, 3, &bad2, &r), MDC_INVALID_ARGUMENT);
    MDC_SCAN_OPTIONS bad3 = {0};
    bad3.name = "\xc3\x28";
    EXPECT(mdc_scanner_scan_buffer(scanner, data, 3, &bad3, &r), MDC_INVALID_ARGUMENT);
    CHECK(r == NULL);
    EXPECT(mdc_scanner_scan_file(NULL, "x", NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_file(garbage, "x", NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_file(scanner, NULL, NULL, &r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_file(scanner, "x", NULL, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_scan_file(scanner, "/nonexistent/mdc-test", NULL, &r), MDC_IO_ERROR);
    CHECK(strstr(mdc_last_error(), "/nonexistent/mdc-test") != NULL);
    CHECK(r == NULL);
    EXPECT(mdc_scanner_destroy(garbage), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_scanner_destroy((mdc_scanner *)config), MDC_INVALID_ARGUMENT);

    EXPECT(mdc_cancel_create(NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_cancel_cancel(NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_cancel_cancel(garbage), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_cancel_destroy(garbage), MDC_INVALID_ARGUMENT);

    EXPECT(mdc_report_code(NULL, &code), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code(garbage, &code), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code_string(NULL, &s), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code_string(garbage, &s), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_blocked(NULL, &b), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_blocked(garbage, &b), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_node_count(NULL, &n), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_node_count(garbage, &n), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat_count(NULL, &n), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat_count(garbage, &n), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat(NULL, 0, &t), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat(garbage, 0, &t), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_json(NULL, &buf), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_json(garbage, &buf), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_destroy(garbage), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_destroy((mdc_report *)scanner), MDC_INVALID_ARGUMENT);

    /* NULL out-pointers on a live report. */
    EXPECT(mdc_scanner_scan_buffer(scanner, data, 3, NULL, &r), MDC_OK);
    EXPECT(mdc_report_code(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code_string(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_blocked(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_node_count(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat_count(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_threat(r, 0, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_json(r, NULL), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code(r, &code), MDC_OK);
    CHECK(code == 0);
    /* Destroyed handles are refused, not dereferenced. */
    EXPECT(mdc_report_destroy(r), MDC_OK);
    EXPECT(mdc_report_destroy(r), MDC_INVALID_ARGUMENT);
    EXPECT(mdc_report_code(r, &code), MDC_INVALID_ARGUMENT);

    /* NULL is fine for every destroy and for the buffer. */
    EXPECT(mdc_config_destroy(NULL), MDC_OK);
    EXPECT(mdc_scanner_destroy(NULL), MDC_OK);
    EXPECT(mdc_report_destroy(NULL), MDC_OK);
    EXPECT(mdc_cancel_destroy(NULL), MDC_OK);
    EXPECT(mdc_buffer_free(NULL), MDC_OK);
    EXPECT(mdc_buffer_free(&buf), MDC_OK);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s NESTED_ZIP SLOW_GZ BAD_RULES\n", argv[0]);
        return 2;
    }
    const char *nested = argv[1], *slow = argv[2], *bad_rules = argv[3];
    CHECK(mdc_version() != NULL && strlen(mdc_version()) > 0);

    mdc_config *config = NULL;
    EXPECT(mdc_config_create(&config), MDC_OK);
    EXPECT(mdc_config_set_threads(config, 2), MDC_OK);
    MDC_LIMITS limits;
    EXPECT(mdc_limits_default(&limits), MDC_OK);
    CHECK(limits.max_depth > 0 && limits.timeout_ms > 0);
    limits.max_ratio = 100000; /* the slow file is highly compressible */
    EXPECT(mdc_config_set_limits(config, &limits), MDC_OK);
    mdc_scanner *scanner = NULL;
    EXPECT(mdc_scanner_create(config, &scanner), MDC_OK);
    if (!scanner) {
        fprintf(stderr, "no scanner: %s\n", mdc_last_error());
        return 1;
    }

    /* From memory, with a name and a progress callback. */
    size_t len = 0;
    unsigned char *bytes = read_file(nested, &len);
    CHECK(bytes != NULL);
    MDC_SCAN_OPTIONS opts = {0};
    opts.name = "nested.zip";
    opts.progress = on_progress;
    opts.user_data = &progress_calls;
    mdc_report *r = NULL;
    EXPECT(mdc_scanner_scan_buffer(scanner, bytes, len, &opts, &r), MDC_OK);
    check_eicar_report(r);
    CHECK(atomic_load(&progress_calls) > 0);
    CHECK(atomic_load(&progress_objects) == 5);
    EXPECT(mdc_report_destroy(r), MDC_OK);
    free(bytes);

    /* From a file (named after it). */
    r = NULL;
    MDC_SCAN_OPTIONS named = {0};
    named.name = "nested.zip";
    EXPECT(mdc_scanner_scan_file(scanner, nested, &named, &r), MDC_OK);
    check_eicar_report(r);
    EXPECT(mdc_report_destroy(r), MDC_OK);

    /* Cancel from a second thread. */
    mdc_cancel *cancel = NULL;
    EXPECT(mdc_cancel_create(&cancel), MDC_OK);
    struct cancel_job job = {scanner, slow, cancel, 0, MDC_PANIC};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, scan_slow, &job) == 0);
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    EXPECT(mdc_cancel_cancel(cancel), MDC_OK);
    pthread_join(th, NULL);
    CHECK(job.rc == MDC_OK);
    CHECK(job.code == 19);
    EXPECT(mdc_cancel_destroy(cancel), MDC_OK);

    /* A rule that does not compile names its file. */
    mdc_config *bad = NULL;
    EXPECT(mdc_config_create(&bad), MDC_OK);
    EXPECT(mdc_config_add_rules(bad, bad_rules), MDC_OK);
    mdc_scanner *none = NULL;
    EXPECT(mdc_scanner_create(bad, &none), MDC_CONFIG_ERROR);
    CHECK(none == NULL);
    CHECK(strstr(mdc_last_error(), "bad.yar") != NULL);
    EXPECT(mdc_config_destroy(bad), MDC_OK);

    /* A ClamAV database that does not load names itself. */
    EXPECT(mdc_config_create(&bad), MDC_OK);
    EXPECT(mdc_config_add_database(bad, "/nonexistent/mdscan-test.ndb"), MDC_OK);
    EXPECT(mdc_scanner_create(bad, &none), MDC_IO_ERROR);
    CHECK(none == NULL);
    CHECK(strstr(mdc_last_error(), "mdscan-test.ndb") != NULL);
    EXPECT(mdc_config_destroy(bad), MDC_OK);

    null_and_garbage(scanner, config);

    EXPECT(mdc_scanner_destroy(scanner), MDC_OK);
    EXPECT(mdc_config_destroy(config), MDC_OK);
    EXPECT(mdc_config_destroy(config), MDC_INVALID_ARGUMENT);

    check_sanitize();

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
