// mdscan's built-in rule set, compiled into the library so a new user gets
// detections with no configuration. Harmless test files only.

rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file (https://www.eicar.org/download-anti-malware-testfile/)"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        // The test file is the 68-byte string, optionally followed by
        // whitespace, in a file of at most 128 bytes.
        $eicar at 0 and filesize <= 128
}
