"""Connection settings and a pooled SQLAlchemy engine for Kamailio's database (MySQL/MariaDB
through PyMySQL), with connect/read/write timeouts so a hung database fails a read instead
of stalling the cycle."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, SecretStr
from sqlalchemy import URL, Engine, create_engine


class DbSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=3306, ge=1, le=65535)
    user: str = "kamailio"
    password: SecretStr = SecretStr("")
    database: str = Field(default="kamailio", min_length=1)
    connect_timeout: PositiveFloat = Field(default=5.0, le=300)
    read_timeout: PositiveFloat = Field(default=10.0, le=3600)
    pool_size: PositiveInt = Field(default=2, le=100)

    def url(self) -> URL:
        return URL.create("mysql+pymysql", username=self.user, password=self.password.get_secret_value(),
                          host=self.host, port=self.port, database=self.database)


def make_engine(settings: DbSettings) -> Engine:
    return create_engine(
        settings.url(),
        pool_size=settings.pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,
        pool_timeout=settings.connect_timeout,
        connect_args={
            "connect_timeout": max(1, int(settings.connect_timeout)),
            "read_timeout": max(1, int(settings.read_timeout)),
            "write_timeout": max(1, int(settings.read_timeout)),
        },
    )
