"""Settings for the web app and the Functions app.

Environment variables are read when a config object is built, never at import, so tests
and the Functions host can set them first. `load_config()` picks the class from APP_ENV.
"""
from config.settings import (
    BaseConfig,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestConfig,
    load_config,
)

__all__ = [
    "BaseConfig",
    "ConfigError",
    "DevelopmentConfig",
    "ProductionConfig",
    "TestConfig",
    "load_config",
]
