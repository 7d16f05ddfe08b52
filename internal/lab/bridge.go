//go:build linux

package lab

import (
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
)

// SetBridgeAgeing sets how long the lab's bridge remembers where a MAC is after the last
// frame from it (the kernel's default is 300 s), like `ip -n PREFIX-host link set docker0
// type bridge ageing_time`. 0 makes it forget at once, so it floods every unicast frame
// to every port: what a real docker0 does for a MAC whose interface transmits nothing.
// Only the lab's own bridge changes.
func (l *Lab) SetBridgeAgeing(d time.Duration) error {
	cs := uint32(d / (10 * time.Millisecond)) // centiseconds
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.Spec.Bridge.Name}, AgeingTime: &cs}
	if err := l.Host.Netlink.LinkModify(br); err != nil {
		return fmt.Errorf("set ageing time of %s in %s: %w", l.Spec.Bridge.Name, l.Host.Name, err)
	}
	return nil
}
