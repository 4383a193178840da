"""Labels and numbers as websites publish them, folded so that they compare with the spec.

Published reports write the same label many ways: “(一)” or “（一）”, “、” or “，”, spaces and line
breaks inside a cell, “1．” or “1、” before an item, quote marks or none around “三安全一稳定”, and
— on mirror sites — traditional characters (“資訊公開”). ``label_variants`` folds a label into
a few keys, from strict to loose; the spec's labels are folded the same way (see ``place``), so
no label is written here. Cell values go through ``workbook.values.parse_number`` — the one
place numbers are normalised — and ``cell_value`` only decides what to store and what to say.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from workbook.values import Status, parse_number

# Traditional → simplified for the characters of the report's labels, headings and common unit
# names (mirror sites convert character by character). Pairs “traditional simplified”.
_PAIRS = """
業业 為为 舉举 於于 會会 體体 處处 複复 復复 關关 決决 況况 減减 製制 辦办 務务 動动 區区 單单
發发 後后 國国 審审 對对 屬属 開开 強强 當当 執执 護护 報报 據据 數数 無无 機机 權权 條条 構构
沒没 現现 確确 穩稳 類类 係系 糾纠 納纳 組组 織织 經经 結结 繼继 續续 維维 繳缴 罰罚 範范 獲获
補补 規规 計计 認认 議议 許许 訟讼 訪访 訴诉 詢询 請请 購购 費费 轉转 過过 這这 進进 採采 項项
題题 額额 問问 總总 資资 訊讯 廢废 萬万 內内 見见 門门 縣县 鎮镇 鄉乡 員员 衛卫 財财 稅税 監监
環环 態态 圖图 險险 長长 領领 導导 實实 際际 應应 時时 間间 話话 網网 欄栏 統统 錄录 聯联 絡络
電电 郵邮 編编 碼码 義义 檔档 館馆 書书 視视 頻频 聞闻 閱阅 覽览 讀读 歷历 曆历 歲岁 級级 臺台
質质 樂乐 邊边 劃划 農农 運运 輸输 設设 場场 價价 個个 們们 兩两 嚴严 從从 僅仅 眾众 優优 傳传
華华 產产 專专 寫写 陽阳 廣广 東东 車车 軍军 醫医 療疗 廳厅 綜综 濟济 氣气 漁渔 礦矿 鐵铁 災灾
糧粮 儲储 備备 銷销 營营 貿贸 舊旧 寧宁 蘇苏 閩闽 贛赣 魯鲁 粵粤 瓊琼 陝陕 隴陇 龍龙 滬沪 晉晋
興兴 慶庆 灣湾 島岛 鄰邻 橋桥 躍跃 麗丽 陰阴 湯汤 熱热 雲云 葉叶 號号 變变 帶带 園园 歸归 與与
並并 將将 說说 讓让 還还 該该 來来 驗验 證证 庫库 聽听 圍围 參参 點点 線线 遞递 週周 戶户 稱称
負负 責责 擔担 異异 雜杂 遠远 簡简 選选 測测 評评 層层 檢检 徵征 鍵键 爭争 調调 節节 協协 紀纪
黨党 團团 婦妇 殘残 僑侨 輿舆 論论 壞坏 標标 準准 則则 細细 緻致 績绩 終终 約约 給给 練练 縮缩
藝艺 築筑 簽签 籌筹 覺觉 親亲 觀观 訂订 記记 討讨 訓训 託托 診诊 詞词 試试 詳详 誠诚 誤误 課课
談谈 諮咨 謀谋 講讲 謝谢 識识 護护 貨货 貢贡 貫贯 貸贷 貼贴 賠赔 賣卖 賽赛 贈赠 跡迹 軌轨 軟软
較较 載载 輔辅 輕轻 輛辆 輪轮 轄辖 遷迁 遺遗 針针 錢钱 鋼钢 錯错 閉闭 閣阁 陣阵 陸陆 隊队 階阶
隨随 隱隐 雙双 離离 難难 靈灵 靜静 順顺 須须 預预 頭头 顏颜 願愿 顧顾 顯显 風风 飛飞 養养
馬马 駐驻 鹽盐 齡龄 廠厂 礎础 幣币 億亿
"""
T2S: dict[int, str] = {ord(p[0]): p[1] for p in _PAIRS.split() if p[0] != p[1]}
# Words, not characters: Taiwan usage that a character-by-character mapping cannot undo.
PHRASES: tuple[tuple[str, str], ...] = (("资讯", "信息"), ("反覆", "反复"))

_QUOTES = str.maketrans("", "", "“”‘’「」『』\"'`")
_SEPARATORS = str.maketrans({"、": ",", "，": ",", "；": ",", ";": ",", "﹐": ",", "〔": "(", "〕": ")",
                             "【": "(", "】": ")", "[": "(", "]": ")", "﹙": "(", "﹚": ")", "·": "", "•": ""})
_SPACES = re.compile(r"\s+")
_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九", start=0)}
_NUMBERING = re.compile(r"^(?:\((?P<a>[一二三四五六七八九十]{1,3}|\d{1,2})\)\s*"
                        r"|(?P<b>[一二三四五六七八九十]{1,3}|\d{1,2})\s*(?:[,.:)]|\s)\s*)")
_TRAILING_PAREN = re.compile(r"\([^()]*\)$")
_LOOSE = re.compile(r"[,.:/\-_~]")
_UNIT = re.compile(r"\((?:单位:?)?(万元|元|件|个|项|次)\)$")
_PLAIN = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?")


def simplify(text: str) -> str:
    """Traditional characters of the report's vocabulary → simplified (and 資訊 → 信息)."""
    out = text.translate(T2S)
    for old, new in PHRASES:
        out = out.replace(old, new)
    return out


def _narrow(text: str) -> str:
    """Full width → half width, simplified, unified separators, quotes dropped; spaces kept."""
    t = simplify(unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", t.translate(_QUOTES).translate(_SEPARATORS)).strip()


def fold(text: str) -> str:
    """The comparison form of a label: narrowed and without any whitespace."""
    return _narrow(text).replace(" ", "")


def chinese_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20 (enough for item numbers and section numbers)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text, 0)


def split_numbering(text: str) -> tuple[int | None, str]:
    """(item number, the rest folded): “（三）不予公开” → (3, “不予公开”); “1、 总体情况” → (1, …).

    The number's style is ignored on purpose: the seed report heads part 一 “1、”, and items are
    numbered “1.”, “1、”, “（1）” or “⑴” depending on who typed them.
    """
    t = _narrow(text)
    m = _NUMBERING.match(t)
    if not m and " " in t:  # a line break inside the number (“（五\n）不予处理” in a narrow cell)
        squeezed = t.replace(" ", "")
        found = _NUMBERING.match(squeezed)
        if found and found.group(0).endswith((")", ",", ".", ":")):
            t, m = squeezed, found
    if not m:
        return None, t.replace(" ", "")
    return chinese_number(m["a"] or m["b"]), t[m.end():].replace(" ", "")


def core(rest: str) -> str:
    """A label without its trailing remark: “部分公开(区分处理的…)” → “部分公开”."""
    prev = None
    while prev != rest:
        prev, rest = rest, _TRAILING_PAREN.sub("", rest)
    return rest


def loose(rest: str) -> str:
    return _LOOSE.sub("", rest)


@lru_cache(maxsize=8192)
def label_variants(text: str) -> tuple[str, str, str, str]:
    """Keys from strict to loose: numbered full label, numbered core, unnumbered, unnumbered core."""
    n, rest = split_numbering(text)
    tag = "" if n is None else str(n)
    c = core(rest)
    return f"{tag}#{rest}", f"{tag}#{c}", f"#{loose(rest)}", f"#{loose(c)}"


LEVEL_WORDS = ("", "忽略括注", "忽略序号", "忽略序号和括注", "近似匹配，疑为错别字")


def unit_of(label: str) -> str | None:
    """The unit a header states in brackets: “采购总金额（单位：元）” → “元”."""
    m = _UNIT.search(fold(label))
    return m.group(1) if m else None


def is_blank(text: str) -> bool:
    return not _SPACES.sub("", text)


# Cells that are certainly meant as a number or a placeholder although ``parse_number`` cannot
# read them (“－”, “／”, “−8”, “12（件）”): they keep the row's shape and are stored as written,
# so the checks report them instead of the import misreading them as labels.
_NUMBER_LIKE = re.compile(r"[-－—–―−/／\\＼×]+|[-+－＋−]?[0-9０-９][0-9０-９.,，．]*\s*[（(]?\s*(?:件|个|项|次|宗|元|万元)?\s*[)）]?")


def is_value(text: str) -> bool:
    """Whether a cell holds a number, a blank or a placeholder (anything ``parse_number`` reads,
    or writes that are plainly meant as one)."""
    if parse_number(text, money=True).status != Status.INVALID:
        return True
    return bool(_NUMBER_LIKE.fullmatch(_SPACES.sub("", text)))


@dataclass(frozen=True)
class Stored:
    """What goes into the workbook for one published cell, and what was done to it.

    A number written in a way a spreadsheet cannot add up (“1．2678万元”, “１２”, “3,050”,
    “251000元” in a 万元 column) is stored as the number it means, so that the imported workbook
    shows values its own totals and live checks can use; ``published`` keeps the writing (it
    becomes the cell's note and a line of the import log). Placeholders (“-”, “/”, “无”) and text
    that is no number at all are kept as written, so that the checks report them (R0.3, R2.1…).
    """

    raw: Any
    status: Status
    how: str = ""
    published: str = ""


def _number(value: float, money: bool) -> float | int:
    return int(value) if not money and value == int(value) else float(value)


def cell_value(text: str, money: bool, header_unit: str | None = None) -> Stored:
    """Turn one published cell into the value to store (see ``Stored``)."""
    t = _SPACES.sub("", text)
    if not t:  # a space (any kind) or nothing, as the seed's transcription writes blanks
        return Stored(" " if text else None, Status.BLANK, "空白，按 0 计")
    if _PLAIN.fullmatch(t):
        number: float | int = float(t) if "." in t else int(t)
        if money and header_unit == "元":
            return Stored(float(number) / 10000, Status.NORMALISED, "表头单位为“元”，已换算为万元", t)
        return Stored(number, Status.OK)
    parsed = parse_number(t, money=money)
    if parsed.status == Status.PLACEHOLDER:
        return Stored(t, parsed.status, f"{parsed.how}，按 0 计")
    if parsed.status == Status.INVALID:
        return Stored(t, parsed.status, "无法识别为数字，原样录入（校验时报错）")
    if money and header_unit == "元" and not t.endswith("元"):
        return Stored(parsed.value / 10000, Status.NORMALISED, f"{parsed.how}；表头单位为“元”，已换算为万元", t)
    value = _number(parsed.value, money)
    return Stored(value, parsed.status, f"{parsed.how}，读作 {_show(parsed.value)}，按数字录入", t)


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0").rstrip(".")


__all__ = ["T2S", "PHRASES", "LEVEL_WORDS", "Stored", "cell_value", "chinese_number", "core", "fold",
           "is_blank", "is_value", "label_variants", "loose", "simplify", "split_numbering", "unit_of"]
