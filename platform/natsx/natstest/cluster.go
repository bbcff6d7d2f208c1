package natstest

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ClusterName is the JetStream cluster the servers of a Cluster form.
const ClusterName = "campaigns-test"

// Cluster is a JetStream cluster of servers in this process, each on its own loopback client
// and route ports and its own store, routed to one another. A test stops one to simulate the
// loss of a node, and may start it again on the same ports and store.
type Cluster struct {
	t     testing.TB
	nodes []*clusterNode
}

type clusterNode struct {
	name      string
	port      int // clients
	routePort int // the other servers
	store     string
	srv       *server.Server
	routesTo  string // every server's route URL, comma-separated
	cluster   string
}

// NewCluster starts n servers forming one JetStream cluster and waits until its meta leader
// sees them all; they are shut down when the test ends.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	// The stores' directory first: its removal must run after the servers' shutdown
	// (cleanups run last-in first-out).
	dir := t.TempDir()
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	// The ports are free when picked, not when bound: another process may take one between
	// the two. Then the whole cluster starts again on fresh ports.
	var err error
	for attempt := range 3 {
		if err = c.form(n, filepath.Join(dir, strconv.Itoa(attempt))); err == nil {
			c.WaitForPeers(n)
			return c
		}
		for i := range c.nodes {
			c.Stop(i)
		}
	}
	t.Fatalf("nats cluster: %v", err)
	return nil
}

// form picks ports and stores (under dir) for n servers and starts them.
func (c *Cluster) form(n int, dir string) error {
	c.nodes = nil
	var routes []string
	for i := range n {
		node := &clusterNode{
			name: "n" + strconv.Itoa(i), port: freePort(c.t), routePort: freePort(c.t),
			store: filepath.Join(dir, "n"+strconv.Itoa(i)), cluster: ClusterName,
		}
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(node.routePort))
		c.nodes = append(c.nodes, node)
	}
	for _, node := range c.nodes {
		node.routesTo = strings.Join(routes, ",")
	}
	for i := range c.nodes {
		if err := c.start(i); err != nil {
			return err
		}
	}
	return nil
}

// freePort is a loopback port free now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts node i (again), on its ports and store.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if err := c.start(i); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Cluster) start(i int) error {
	node := c.nodes[i]
	srv, err := server.NewServer(&server.Options{
		ServerName: node.name, Host: "127.0.0.1", Port: node.port,
		JetStream: true, StoreDir: node.store, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: node.cluster, Host: "127.0.0.1", Port: node.routePort},
		Routes:  server.RoutesFromStr(node.routesTo),
	})
	if err != nil {
		return fmt.Errorf("nats server %s: %w", node.name, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats server %s did not start on ports %d and %d", node.name, node.port, node.routePort)
	}
	node.srv = srv
	return nil
}

// Stop shuts node i down, as the loss of the machine would (its store stays for a Start).
func (c *Cluster) Stop(i int) {
	if srv := c.nodes[i].srv; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		c.nodes[i].srv = nil
	}
}

// URLs are the client URLs of every server, comma-separated (natsx.Config's URL).
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string { return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].port) }

// Name is node i's server name (what nats.Conn.ConnectedServerName answers).
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// Index is the node named name, -1 if none is.
func (c *Cluster) Index(name string) int {
	for i, node := range c.nodes {
		if node.name == name {
			return i
		}
	}
	return -1
}

// WaitForPeers waits until the cluster's meta leader sees n JetStream servers online (after
// a Stop: until it has noticed) and every running server is current with it.
func (c *Cluster) WaitForPeers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leaderSees, current := 0, true
		for _, node := range c.nodes {
			if node.srv == nil {
				continue
			}
			if node.srv.JetStreamIsLeader() {
				leaderSees = len(node.srv.JetStreamClusterPeers())
			}
			current = current && node.srv.JetStreamIsCurrent()
		}
		if leaderSees == n && current {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the JetStream cluster did not form: its meta leader sees %d of %d servers", leaderSees, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StreamLeader is the node leading stream (of the default account), -1 while none does.
func (c *Cluster) StreamLeader(stream string) int {
	for i, node := range c.nodes {
		if node.srv != nil && node.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// MoveStreamLeader makes node i the leader of stream: the current leader steps down with i
// as the preferred successor (through nc, a connection to the cluster). It waits until i
// leads.
func (c *Cluster) MoveStreamLeader(nc *nats.Conn, stream string, i int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.StreamLeader(stream) != i {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not become the leader of stream %s (the leader is node %d)", c.Name(i), stream, c.StreamLeader(stream))
		}
		if c.StreamLeader(stream) < 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": c.Name(i)}})
		resp, err := nc.Request(fmt.Sprintf("$JS.API.STREAM.LEADER.STEPDOWN.%s", stream), req, 5*time.Second)
		if err != nil {
			c.t.Logf("stream %s leader step-down: %v", stream, err)
		} else {
			var r struct {
				Error *struct{ Description string } `json:"error"`
			}
			if json.Unmarshal(resp.Data, &r) == nil && r.Error != nil {
				c.t.Logf("stream %s leader step-down: %s", stream, r.Error.Description)
			}
		}
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait) && c.StreamLeader(stream) != i; {
			time.Sleep(50 * time.Millisecond)
		}
	}
}
