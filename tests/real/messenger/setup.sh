cp /etc/ssl/certs/ca-certificates.crt host-ca.crt
