/*
 * A minimal mdscan client: scan each file named on the command line with
 * the built-in rules and print its verdict and threats.
 *
 *   cc scan.c $(pkg-config --cflags --libs mdc) -o mdc-scan
 *   ./mdc-scan sample.zip
 *
 * Exit status: 0 nothing found, 1 something blocked, 2 an error.
 */
#include <stdio.h>

#include "mdc.h"

int main(int argc, char **argv) {
    mdc_config *config = NULL;
    mdc_scanner *scanner = NULL;
    if (mdc_config_create(&config) != MDC_OK || mdc_scanner_create(config, &scanner) != MDC_OK) {
        fprintf(stderr, "mdc: %s\n", mdc_last_error());
        mdc_config_destroy(config);
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        mdc_report *report = NULL;
        if (mdc_scanner_scan_file(scanner, argv[i], NULL, &report) != MDC_OK) {
            fprintf(stderr, "mdc: %s\n", mdc_last_error());
            status = 2;
            continue;
        }
        const char *verdict = "";
        bool blocked = false;
        size_t threats = 0;
        mdc_report_code_string(report, &verdict);
        mdc_report_blocked(report, &blocked);
        mdc_report_threat_count(report, &threats);
        printf("%s: %s\n", argv[i], verdict);
        for (size_t t = 0; t < threats; t++) {
            MDC_THREAT threat;
            if (mdc_report_threat(report, t, &threat) == MDC_OK)
                printf("  %s in %s (%s)\n", threat.name, threat.object, threat.engine);
        }
        if (blocked && status == 0) status = 1;
        mdc_report_destroy(report);
    }
    mdc_scanner_destroy(scanner);
    mdc_config_destroy(config);
    return status;
}
