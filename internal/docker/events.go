package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Event is one message of the engine's /events stream.
type Event struct {
	Type   string `json:"Type"`   // container, network, …
	Action string `json:"Action"` // start, die, destroy, rename, create, connect, …
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	TimeNano int64 `json:"timeNano"`
}

// Event actions the view follows.
const (
	ActionStart      = "start"
	ActionDie        = "die"
	ActionDestroy    = "destroy"
	ActionRename     = "rename"
	ActionCreate     = "create"
	ActionConnect    = "connect"
	ActionDisconnect = "disconnect"
)

// eventFilter asks the engine for the container and network events the view follows.
var eventFilter = func() string {
	b, _ := json.Marshal(map[string][]string{
		"type":  {"container", "network"},
		"event": {ActionStart, ActionDie, ActionDestroy, ActionRename, ActionCreate, ActionConnect, ActionDisconnect},
	})
	return url.QueryEscape(string(b))
}()

// Events streams the engine's container and network events into fn until ctx ends (nil)
// or the stream breaks or fn fails (that error). opened, if set, is called once the
// engine has answered, before the first event; its error ends the stream. The stream
// starts a second before the call (the engine replays those events from its buffer), so
// that with a listing made in opened nothing falls between the two; an event may
// therefore come twice.
func (c *Client) Events(ctx context.Context, opened func() error, fn func(Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	since := time.Now().Add(-time.Second)
	resp, err := c.do(ctx, fmt.Sprintf("/events?since=%d.%09d&filters=%s", since.Unix(), since.Nanosecond(), eventFilter))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("docker engine at %s: GET /events: %s: %s", c.socket, resp.Status, b)
	}
	if opened != nil {
		if err := opened(); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var e Event
		if err := dec.Decode(&e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("docker engine at %s: events: %w", c.socket, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}
