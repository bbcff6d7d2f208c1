package httpx

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ProbeTimeout bounds a health probe: a container's HEALTHCHECK must not hang.
const ProbeTimeout = 3 * time.Second

// ProbeHealth asks the server listening on listenAddr (host:port, as configured) for GET
// /health and returns nil when it answers 200. A wildcard host (empty, 0.0.0.0, ::) is probed
// on loopback. It is what the binaries' "healthcheck" command runs, so that an image without a
// shell or curl can still have a HEALTHCHECK.
func ProbeHealth(ctx context.Context, listenAddr string) error {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("health probe: bad address %q: %w", listenAddr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/health"
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	// No proxy from the environment: the probe is for this host's own listener.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health probe: GET %s answered %s", url, resp.Status)
	}
	return nil
}
