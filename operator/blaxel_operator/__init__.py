"""blaxel-operator: run Blaxel AI agents from Kubernetes BlaxelAgent resources."""

__version__ = "0.1.0"
