"""PC4 centroids and municipalities, imported with ``bnet geo import``."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base


class Pc4Area(Base):
    __tablename__ = "pc4_area"

    pc4: Mapped[str] = mapped_column(String(4), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(120), default="")
    municipality_code: Mapped[str] = mapped_column(String(6), default="", index=True)
    municipality: Mapped[str] = mapped_column(String(120), default="")
    province: Mapped[str] = mapped_column(String(60), default="")
    residents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(40), default="")


class Municipality(Base):
    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(60), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    residents: Mapped[int | None] = mapped_column(Integer, nullable=True)
