// tlsverify: Go's crypto/tls and crypto/x509 as a client, with their
// defaults, trusting only CAFILE: connects to 127.0.0.1:PORT with SNI
// NAME and prints "OK", or "FAIL: " and Go's own error (exit 1).
// Usage errors exit 2.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tlsverify PORT NAME CAFILE")
		os.Exit(2)
	}
	pem, err := os.ReadFile(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", "127.0.0.1:"+os.Args[1],
		&tls.Config{RootCAs: pool, ServerName: os.Args[2]})
	if err != nil {
		fmt.Println("FAIL: " + err.Error())
		os.Exit(1)
	}
	conn.Close()
	fmt.Println("OK")
}
