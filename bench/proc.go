package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procMonitor reads the CPU time and peak resident memory of the run's
// processes from /proc.
type procMonitor struct {
	pids  map[string]int
	order []string
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on
// every Linux architecture Go runs on).
const clockTicks = 100

func newProcMonitor(st *stack) *procMonitor {
	m := &procMonitor{pids: map[string]int{}}
	for _, name := range writeServices {
		if s := st.procs[name]; s != nil {
			m.pids[name] = s.cmd.Process.Pid
			m.order = append(m.order, name)
		}
	}
	m.pids["nats-server"] = st.natsPID
	m.order = append(m.order, "nats-server")
	m.pids["load generator (this process)"] = os.Getpid()
	m.order = append(m.order, "load generator (this process)")
	return m
}

// procSample is each process's CPU seconds and peak RSS so far, and the
// CPU seconds of every PostgreSQL process on the machine.
type procSample struct {
	at       time.Time
	order    []string
	cpu      map[string]float64
	peakRSS  map[string]int64 // kB, VmHWM
	postgres float64
}

func (m *procMonitor) sample() procSample {
	s := procSample{at: time.Now(), order: m.order, cpu: map[string]float64{}, peakRSS: map[string]int64{}}
	for name, pid := range m.pids {
		s.cpu[name] = cpuSeconds(pid)
		s.peakRSS[name] = statusKB(pid, "VmHWM")
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			s.postgres += cpuSeconds(pid)
		}
	}
	return s
}

// cpuUse is CPU seconds per process over a phase.
type cpuUse struct {
	order    []string
	seconds  map[string]float64
	postgres float64
	wall     time.Duration
}

func (s procSample) cpuSince(before procSample, _ time.Duration) cpuUse {
	u := cpuUse{order: s.order, seconds: map[string]float64{}, postgres: s.postgres - before.postgres, wall: s.at.Sub(before.at)}
	for name, v := range s.cpu {
		u.seconds[name] = v - before.cpu[name]
	}
	return u
}

// cpuSeconds is utime + stime of pid (0 if it is gone).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

// statusKB is a kB field of /proc/<pid>/status.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
