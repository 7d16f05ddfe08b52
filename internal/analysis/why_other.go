//go:build !linux

package analysis

// RouteReason needs Linux's routing tables; elsewhere it says so.
func RouteReason(Conversation) string { return "route unknown: route lookups need Linux" }

// FillReasons sets Reason on each conversation, as RouteReason says it.
func FillReasons(convs []Conversation) {
	for i := range convs {
		convs[i].Reason = RouteReason(convs[i])
	}
}
