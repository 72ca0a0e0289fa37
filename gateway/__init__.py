"""The HTTP gateway: ingress API for institutions, admin API for operators, status, health."""
