// Package deploy holds no code: its tests check the files that deploy netctl, beside
// them in this folder.
//
//   - prometheus/: the alert rules (promtool check rules, the promtool unit tests in
//     netctl-alerts.test.yml, names and annotations in the monitoring-mixins style, and
//     only metrics the exporter describes) and the example scrape config (promtool check
//     config).
//   - systemd/: the unit files (systemd-analyze verify where systemd is installed, and a
//     parser of this package's own that pins the capabilities and the sandboxing).
//
// The Kubernetes manifests are checked by a separate module, deploy/kubernetes/validate,
// so that the Kubernetes API types stay out of netctl's own module.
package deploy
