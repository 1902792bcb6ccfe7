package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// selfSigned returns a certificate for 127.0.0.1 and the pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "shoal test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestTLS serves TLS: a client that trusts the certificate works, a
// plaintext client and one that does not trust it fail.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := start(t, "", &server.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(o *client.Options) *client.Client {
		o.APIKey = adminKey
		c, err := client.Dial(ts.addr, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	good := dial(&client.Options{TLS: &tls.Config{RootCAs: pool}})
	if _, err := good.Collections.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: 4}}); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	for name, o := range map[string]*client.Options{
		"plaintext":     {},
		"untrusted TLS": {TLS: &tls.Config{}},
	} {
		if _, err := dial(o).Collections.ListCollections(short, &shoalv1.ListCollectionsRequest{}); err == nil {
			t.Errorf("%s client listed collections of a TLS server", name)
		}
	}
}
