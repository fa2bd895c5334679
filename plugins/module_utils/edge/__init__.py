"""The platform edge: Traefik and Authelia configuration, and HAProxy as the load balancer."""
