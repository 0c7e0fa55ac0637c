// Package dev tests cloudgate-dev, what `make dev` runs: Cloudgate's main job
// on its embedded default, the way a user runs it, as a process whose printed
// curl command must answer, and which must clean up when interrupted.
package dev
