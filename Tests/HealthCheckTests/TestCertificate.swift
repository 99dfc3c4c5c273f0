enum TestCertificate {
    /// Self-signed for CN=localhost (openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=localhost).
    static let certificatePEM = """
        -----BEGIN CERTIFICATE-----
        MIIDCzCCAfOgAwIBAgIUProAE1Dbf53wNf8niDLXyetCmGcwDQYJKoZIhvcNAQEL
        BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODA2MzMxNFoYDzIxMjYx
        MTA0MDYzMzE0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
        AQUAA4IBDwAwggEKAoIBAQC7JheTQARTIcoSJnQWIyg2O8FrfansTuIoBF4mKTgf
        MdmDJDEioLoHra64QaeaY85Qc6BgOz+i88eXdVVoKxsEzna4q89+Wtxgy1nLZ1Zp
        DfP9H+tiY/nAqyu+aYxRDnZ9bWEAVFhgXY36p0AjSRGK6smRLF4YY6VmOXjKl0/r
        i/bri87wt8Pzz5dvBa8pYA8W5zBKoriOd3fhwIn9o5fao+/yb/S1Auux63rWMMfF
        Y/t7pJrY+RNdfVFHCz11sH5G/wzh2WWr8yuZ1Dzakoh7Q/6SJMqtPQv52/x8jrVM
        4P9x56efPiLD8r3BQEuZIQ8twyQ+9lYPUg9GlQygDrV3AgMBAAGjUzBRMB0GA1Ud
        DgQWBBRRFo8xShUAIZJyKSJyorNHT/f4RjAfBgNVHSMEGDAWgBRRFo8xShUAIZJy
        KSJyorNHT/f4RjAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQA8
        GjoZUP/67Q0//HbG6drwIk1se++cMfsQpujo5dSlDfO3fSsq228U0f4X83+2RNCf
        kDz79V2SxiEPsosbSPvm7bQvD7A/jp0xXbxUDr+FeLLlLnO+rq+iEd3NEVclyUw7
        o+jz4GitjdQqgedTlWObwp4feP+UNVh79FumSVaDJ4DDPMZKrk5HgFe1ZaLT/WfD
        /SLb2/WQtxtbC1p3SHtUqpK5vtwKS4rEtRC3tHH9GHfuUH/709AfcdBVwySqyH9m
        j573FIDjDfGAwDVcZpPSHC45bm+ec7gjtizc8bZLjkPlXJP7Vc84pNol1VmIBOH6
        l1lFc+WdTLYGKw9WcHUv
        -----END CERTIFICATE-----
        """

    static let privateKeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC7JheTQARTIcoS
        JnQWIyg2O8FrfansTuIoBF4mKTgfMdmDJDEioLoHra64QaeaY85Qc6BgOz+i88eX
        dVVoKxsEzna4q89+Wtxgy1nLZ1ZpDfP9H+tiY/nAqyu+aYxRDnZ9bWEAVFhgXY36
        p0AjSRGK6smRLF4YY6VmOXjKl0/ri/bri87wt8Pzz5dvBa8pYA8W5zBKoriOd3fh
        wIn9o5fao+/yb/S1Auux63rWMMfFY/t7pJrY+RNdfVFHCz11sH5G/wzh2WWr8yuZ
        1Dzakoh7Q/6SJMqtPQv52/x8jrVM4P9x56efPiLD8r3BQEuZIQ8twyQ+9lYPUg9G
        lQygDrV3AgMBAAECggEAEx8JOZpI1tWU99XF9p0Q9rmUQY9NVT+aC8ymce+0NDu7
        pZKFEqypVS+BsoHCxht8cOvfbvWewt91fRwX5dTBpfQSXTvwr1BJQ/qC6i1cvs8W
        Jr6kJiFg2zah+Yp/M6juolISnx3/CZmFcB62huRoTnE+tv55frRvqcoldU2QdNhi
        003Kp8YWhw1IFOs85yp+/TmTje4LYZItgdf0g4BWe4QRLyPeDCRnmSENWTBm0Gfl
        8r4xYr/+n3r7+YTo7XJ5N5TFPhlRedKaETaXXeVNX3HlZx/R4zP1/svg++Vvw/4q
        sSXTtVfoqXhoRN6swJpzjgizSGUuq2HXtPVggiGaAQKBgQD/9TKCuc9lafp5e0e5
        2BcqeXhAZ6rtJvJs0wAM7ZrEKh8eoW2PyDctlUV8f4+itdxUoLOifXTNlD+qNvm1
        5wn3Uh9ns2upxZyXhLuc1wSoYY+HUPsqkHXGsPhITxr8Ihf92OAedMvzv48KYR+F
        i4mGS3LqC6YYLm70m7hHebT/YQKBgQC7Lf2elRUWxaJg2Z4UbDkPI66GYsD/G8Lc
        af5VeaywXnPQ41IGHBwKDtwwG2E4mr4oIW9vmsaXKdROf6vkcmHC0058ZJ6v2fK4
        o5leFWvM9Ll64sKDjWo+waFXgybQW36746NV94ky8MYeh1FXqtTaOQNoV7E7t0V4
        nEr5eD0b1wKBgQDBlhLI2n3oxvnhLYN3JN+IiWyQ0ZduXDmYYxGztXWLjgwRX6h8
        ycIp4K84VUYumvt0qkKSz+4qmkh4lbHRiVd5Tgxgo0v3kHU6B/LZ0ao9K+ShRHdi
        nvXk++4cym+vaJ3aqVAA2Pd0eFpYUFLF715pSuEz8PGDcoMK0EfVD1D8oQKBgQCj
        aUhUrTSnF81mHjaK/9xkojMYcZiqXxMkmIiJGNuxchRMVljiqqG0Cjsi6JRc9YNz
        x5Tg60/a4pLOIVnw7Ab7Lr0DjliXj3/+wB0B7VOasEBJzzQf41LRDPyNSRuWpXok
        EF0ljSDDTz63ok1aavK+vS2DZ6N8TckhvdkaqGU5KwKBgQDqjXk1eYKaaKln7cDc
        82HLFvRXciQf0348CZU6A4ws1oYt1ToTB+p87BKLdx6hBSQCUe6Y587vPwNOzF6t
        9w3CbargUZMSBBwYtCt735NyKcWWhrXyXr+PveZNohNGDWIvF26BcK/Iswr3CzU1
        zQM8L4DKz89TpLkEH0He06EFLw==
        -----END PRIVATE KEY-----
        """
}
