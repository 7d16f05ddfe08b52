// Package docker is the Docker Engine API as netctl needs it, over the unix socket
// (DOCKER_HOST=unix://… or /var/run/docker.sock), without the docker CLI: one long-lived
// client per process (Default), the calls that inspect and list containers and networks,
// the /events stream, and View, an in-memory view of the containers and networks that
// the stream keeps current.
//
// It is its own small client rather than github.com/moby/moby/client: netctl needs five
// GET endpoints, and the module would bring a dozen others (OpenTelemetry, containerd's
// errdefs, the image-spec types) into a static binary for them.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Socket returns the Engine API's unix socket from DOCKER_HOST (default
// /var/run/docker.sock). Only unix sockets are supported.
func Socket() (string, error) {
	env := os.Getenv("DOCKER_HOST")
	if env == "" {
		return "/var/run/docker.sock", nil
	}
	if p, ok := strings.CutPrefix(env, "unix://"); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("DOCKER_HOST=%s: only unix:// sockets are supported", env)
}

// Limits of a Client's connections to the engine: the events stream holds one, calls
// share the others and wait for a free one (within their context) beyond that.
const (
	MaxConns     = 4
	maxIdleConns = 2
	// CallTimeout bounds a call whose context has no earlier deadline.
	CallTimeout = 5 * time.Second
)

// Client is the Engine API over a unix socket, through one http.Transport: connections
// are reused and at most MaxConns are open. It is safe for concurrent use; a process
// needs one (Default).
type Client struct {
	socket string
	tr     *http.Transport
	http   *http.Client
}

// NewClient returns a client for the Engine API at socket. Most callers want Default.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxConnsPerHost:     MaxConns,
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: socket, tr: tr, http: &http.Client{Transport: tr}}
}

var (
	defaultOnce   sync.Once
	defaultClient *Client
	defaultErr    error
)

// Default returns the process's client, for the socket Socket names; every caller shares
// it, and with it the connections.
func Default() (*Client, error) {
	defaultOnce.Do(func() {
		sock, err := Socket()
		if err != nil {
			defaultErr = err
			return
		}
		defaultClient = NewClient(sock)
	})
	return defaultClient, defaultErr
}

// Close closes the idle connections. The client stays usable.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Socket is the unix socket the client talks to.
func (c *Client) Socket() string { return c.socket }

// Container is what netctl reads from `GET /containers/{id}/json`.
type Container struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Running bool   `json:"Running"`
		Pid     int    `json:"Pid"`
		Status  string `json:"Status"`
	} `json:"State"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
	NetworkSettings struct {
		SandboxKey string              `json:"SandboxKey"` // the namespace file Docker bound
		Networks   map[string]Endpoint `json:"Networks"`   // by network name
	} `json:"NetworkSettings"`
}

// Endpoint is a container's place on one network.
type Endpoint struct {
	NetworkID   string `json:"NetworkID"`
	IPAddress   string `json:"IPAddress"`
	IPPrefixLen int    `json:"IPPrefixLen"`
	MacAddress  string `json:"MacAddress"`
}

// NetnsPath opens the container's network namespace while it runs ("" otherwise).
func (d *Container) NetnsPath() string {
	if !d.State.Running || d.State.Pid <= 0 {
		return ""
	}
	return fmt.Sprintf("/proc/%d/ns/net", d.State.Pid)
}

// ErrNoSuchContainer is returned for a container the engine does not know.
var ErrNoSuchContainer = errors.New("no such container")

// ErrNotRunning is returned (wrapped) by CheckUsable for a stopped container.
var ErrNotRunning = errors.New("not running")

// Inspect reads a container by name, ID or ID prefix.
func (c *Client) Inspect(ctx context.Context, ref string) (*Container, error) {
	var out Container
	if err := c.get(ctx, "/containers/"+url.PathEscape(ref)+"/json", &out); err != nil {
		return nil, err
	}
	out.Name = strings.TrimPrefix(out.Name, "/")
	return &out, nil
}

// List returns the running containers, or with all the stopped ones too.
func (c *Client) List(ctx context.Context, all bool) ([]Container, error) {
	var list []struct {
		ID string `json:"Id"`
	}
	path := "/containers/json"
	if all {
		path += "?all=1"
	}
	if err := c.get(ctx, path, &list); err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(list))
	for _, l := range list {
		d, err := c.Inspect(ctx, l.ID)
		if errors.Is(err, ErrNoSuchContainer) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, nil
}

// get reads path into v, within ctx and at most CallTimeout.
func (c *Client) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	resp, err := c.do(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("docker engine at %s: read %s: %w", c.socket, path, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.Unmarshal(body, v)
	case http.StatusNotFound:
		return ErrNoSuchContainer
	}
	var msg struct{ Message string }
	_ = json.Unmarshal(body, &msg)
	return fmt.Errorf("docker engine at %s: GET %s: %s: %s", c.socket, path, resp.Status, msg.Message)
}

// do sends GET path; the caller closes the body.
func (c *Client) do(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL: the query is long and says nothing
		}
		p, _, _ := strings.Cut(path, "?")
		return nil, fmt.Errorf("docker engine at %s: GET %s: %w", c.socket, p, err)
	}
	return resp, nil
}

// CheckUsable refuses containers whose network namespace netctl must not change.
func (d *Container) CheckUsable() error {
	mode := d.HostConfig.NetworkMode
	switch {
	case !d.State.Running || d.State.Pid == 0:
		return fmt.Errorf("container %s is %w (state %s)", d.Name, ErrNotRunning, d.State.Status)
	case mode == "host":
		return fmt.Errorf("container %s uses the host's network namespace (--network host): refusing to change the host", d.Name)
	case strings.HasPrefix(mode, "container:"):
		return fmt.Errorf("container %s shares the network namespace of %s: give that container instead", d.Name, strings.TrimPrefix(mode, "container:"))
	}
	return nil
}
