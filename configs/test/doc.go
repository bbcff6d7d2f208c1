// Package test checks the deployment files under configs/ (Dockerfile, compose.yaml, the k8s
// kustomize base) and runs the image's commands as an unprivileged user. It is a module of its
// own so that the Kubernetes API types it decodes into stay out of the library's dependencies.
package test
