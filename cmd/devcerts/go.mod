module github.com/probation-recruitment/pipeline/cmd/devcerts

go 1.27.3

require github.com/probation-recruitment/pipeline/pkg v0.0.0

replace github.com/probation-recruitment/pipeline/pkg => ../../pkg
