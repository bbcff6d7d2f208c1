// Package natstest gives tests real NATS servers: the external one CAMPAIGNS_TEST_NATS_URL
// names (skipped when unset, failing under CAMPAIGNS_TEST_REQUIRE_SERVICES=1), the embedded
// one, a server on a loopback port that a test can stop and start again to simulate an
// outage, a proxy that can hold the traffic to simulate a network partition, and a JetStream
// cluster of such servers (NewCluster) that loses a node.
package natstest

import (
	"context"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/embedded"
)

// EnvNATSURL names the external NATS server of the test environment.
const EnvNATSURL = "CAMPAIGNS_TEST_NATS_URL"

// Target is one NATS set-up a suite runs against.
type Target struct {
	Name string
	URL  string // the external server; empty: the embedded one
}

// Embedded is the in-process server the embedded default runs (no TCP port).
func Embedded(testing.TB) Target {
	return Target{Name: "embedded"}
}

// External is the server CAMPAIGNS_TEST_NATS_URL names.
func External(t testing.TB) Target {
	t.Helper()
	url := os.Getenv(EnvNATSURL)
	if url == "" {
		if os.Getenv("CAMPAIGNS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not set but CAMPAIGNS_TEST_REQUIRE_SERVICES=1", EnvNATSURL)
		}
		t.Skipf("external NATS tests skipped: set %s (e.g. nats://127.0.0.1:4222)", EnvNATSURL)
	}
	return Target{Name: "external", URL: url}
}

// Connect connects to target: to its URL, or to an embedded server started on a fresh data
// dir. The connection, then the server, are closed when the test ends.
func Connect(t testing.TB, target Target) *natsx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg := natsx.Config{URL: target.URL, Name: "test", Logger: slog.New(slog.DiscardHandler)}
	if target.URL == "" {
		srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("embedded nats server: %v", err)
		}
		t.Cleanup(srv.Close) // after the connection's Close: cleanups run last-in first-out
		cfg.InProcess = srv
	}
	nc, err := natsx.Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// EachTarget runs fn on the embedded server and on the external one.
func EachTarget(t *testing.T, fn func(t *testing.T, target Target)) {
	t.Helper()
	for _, mk := range []struct {
		name string
		make func(testing.TB) Target
	}{{"embedded", Embedded}, {"external", External}} {
		t.Run(mk.name, func(t *testing.T) { fn(t, mk.make(t)) })
	}
}

// Server is a JetStream server on a loopback port that can be stopped and started again with
// the same port and store.
type Server struct {
	t     testing.TB
	port  int
	store string
	srv   *server.Server
}

// NewServer starts a server; it is shut down when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{t: t, port: port, store: filepath.Join(t.TempDir(), "jetstream")}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Start starts the server (again).
func (s *Server) Start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.store, NoSigs: true, NoLog: true,
	})
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats server did not start")
	}
	s.srv = srv
}

// Stop shuts the server down; its store stays for the next Start.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Proxy forwards TCP connections to a server and can hold their traffic, both ways, as a
// network partition does: nothing is closed, so the client sees no disconnection, and what
// was sent while held reaches the other side once released.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while the traffic flows
	conns []net.Conn
}

// NewProxy starts a proxy to the server at url (nats://host:port); it is closed when the test
// ends.
func NewProxy(t testing.TB, url string) *Proxy {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatalf("proxy target %q: %v", url, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{ln: ln, target: u.Host, open: open}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's client URL.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

// Hold stops forwarding: what either side sends waits in the proxy and the sockets' buffers.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // held already
	}
}

// Release forwards again, what was held first.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *Proxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies from src to dst, each chunk once the gate is open.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.Release()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}
