package docker

import (
	"context"
	"slices"
	"strings"
)

// BridgeNameOption is the network option that names a bridge network's Linux bridge
// (docker0 for the default network "bridge").
const BridgeNameOption = "com.docker.network.bridge.name"

// Network is what netctl reads from `GET /networks`.
type Network struct {
	ID      string            `json:"Id"`
	Name    string            `json:"Name"`
	Driver  string            `json:"Driver"`
	Options map[string]string `json:"Options"`
}

// Bridge returns the Linux bridge of a bridge-driver network: the name its options give,
// else Docker's own "br-" and the first 12 characters of the network's ID. Other drivers
// have none ("").
func (n Network) Bridge() string {
	if n.Driver != "bridge" {
		return ""
	}
	if b := n.Options[BridgeNameOption]; b != "" {
		return b
	}
	return "br-" + n.ID[:min(12, len(n.ID))]
}

// Networks lists the engine's networks, sorted by name.
func (c *Client) Networks(ctx context.Context) ([]Network, error) {
	var out []Network
	if err := c.get(ctx, "/networks", &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// FindNetwork returns the network that ref names (its name, its ID or an ID prefix of
// at least 12 characters), if one of nets is.
func FindNetwork(nets []Network, ref string) (Network, bool) {
	for _, n := range nets {
		if n.Name == ref || n.ID == ref {
			return n, true
		}
	}
	if len(ref) >= 12 {
		for _, n := range nets {
			if strings.HasPrefix(n.ID, ref) {
				return n, true
			}
		}
	}
	return Network{}, false
}

// Bridges returns the Linux bridges of the bridge-driver networks among nets, in order.
func Bridges(nets []Network) []string {
	var out []string
	for _, n := range nets {
		if b := n.Bridge(); b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}
