// Package docker is the few Docker Engine API calls netctl needs, over the unix socket
// (DOCKER_HOST=unix://… or /var/run/docker.sock): inspect and list containers.
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

// Client is the few Engine API calls netctl needs, over the unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the Engine API at socket.
func NewClient(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

// Container is what netctl reads from `GET /containers/{id}/json`.
type Container struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Running bool `json:"Running"`
		Pid     int  `json:"Pid"`
		Status  string
	} `json:"State"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
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

// List returns the running containers.
func (c *Client) List(ctx context.Context) ([]Container, error) {
	var list []struct {
		ID string `json:"Id"`
	}
	if err := c.get(ctx, "/containers/json", &list); err != nil {
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

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("docker engine at %s: %w", c.socket, err)
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
