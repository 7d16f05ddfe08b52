package exporter

import (
	"net/netip"
	"time"

	"github.com/netctl/netctl/probe"
)

// Conversation is one conversation of a container whose packets arrive on one
// interface while its replies leave on another: the seed's eth0-in / eth1-out.
type Conversation struct {
	Container    string     `json:"container"`
	Proto        uint8      `json:"proto"`
	Local        netip.Addr `json:"local"` // the container's side
	LocalPort    uint16     `json:"local_port"`
	Remote       netip.Addr `json:"remote"`
	RemotePort   uint16     `json:"remote_port"`
	Initiator    string     `json:"initiator"`     // "remote" (a peer connected in) or "local" (the container connected out)
	InInterface  string     `json:"in_interface"`  // where the container receives the conversation's packets
	OutInterface string     `json:"out_interface"` // where its packets leave (≠ InInterface)
	InBytes      uint64     `json:"in_bytes"`
	OutBytes     uint64     `json:"out_bytes"` // bytes that left on OutInterface
	LastSeen     time.Time  `json:"last_seen"`
	Reason       string     `json:"reason,omitempty"` // the route that sends the replies out (see Reasoner)
	NetnsPath    string     `json:"-"`
}

// DetectAsymmetric finds the asymmetric conversations among flows active within idle of
// now. It is pure.
//
// PLACEHOLDER (being written): returns nothing yet.
func DetectAsymmetric(flows []probe.Flow, now time.Time, idle time.Duration) []Conversation {
	return nil
}
