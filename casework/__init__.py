"""The life of a 信访事项 after its route is decided: states, statutory clocks and documents.

Pure Python, without database or web: the store and the workbench build on it.

- :mod:`casework.states`: the states and steps of a case and the one table of which step may
  follow which state and who may take it, from 登记 and 确定去向 through 转送/交办, 签收 or 异议退回
  (第二十三条第三款), 受理, 办理 and its one extension (第三十四条), 处理意见 and 办结, to 复查 and
  复核 (第三十五条、第三十六条), after which the matter is final (第三十六条第三款); 不予受理 and
  不再受理 with their notices, 督办 (第四十条), 重大紧急 reports (第二十五条), 听证 and satisfaction.
- :mod:`casework.clocks`: the periods those steps start and stop (第二十二条 15日, 第二十三条 15日 and
  5个工作日, 第三十四条 60日 + 延期, 第三十五条 and 第三十六条 30日 + 30日), as dates on the official
  work-day calendar, each due, overdue or met on a given day.
- :mod:`casework.documents`: the notices and letters an office issues at those steps, drafted
  from templates an office can edit (``data/documents``), numbered (文号) and written to DOCX and
  printable HTML, with the petitioner's particulars only where a document needs them.

The law is the 2022 《信访工作条例》; the shape of an office's forms follows its own practice
(受理告知、转送交办、督查督办、听证、复查复核制度).
"""
